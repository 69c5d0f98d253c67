using System.Diagnostics;
using System.Text;

namespace RunnerFleet.IntegrationTests;

/// <summary>The controller as its own process (what a user runs), so a test can kill -9 it and start it again.</summary>
public sealed class ControllerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ControllerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static ControllerProcess Start(IEnumerable<KeyValuePair<string, string>> settings, bool sandbox = false)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        // Sandbox mode is its own host (RunnerFleet.Sandbox: the controller with the simulators); the service is the controller.
        psi.ArgumentList.Add(sandbox ? Dll("RunnerFleet.Sandbox") : Dll());

        foreach (var (key, value) in settings)
        {
            psi.ArgumentList.Add($"--{key}={value}");
        }

        psi.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        return new ControllerProcess(Process.Start(psi)!);
    }

    /// <summary>SIGKILL, as <c>kill -9</c>.</summary>
    public void Kill9() => _process.Kill(entireProcessTree: false);

    public Task WaitForExitAsync(CancellationToken ct) => _process.WaitForExitAsync(ct);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>A built host (the controller, or the sandbox), next to this test assembly's own build output.</summary>
    internal static string Dll(string project = "RunnerFleet.Controller")
    {
        // artifacts/bin/RunnerFleet.IntegrationTests/<config>/ → artifacts/bin/<project>/<config>/
        var dir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var host = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(dir))!, project, Path.GetFileName(dir), project + ".dll");
        return File.Exists(host) ? host : Path.Combine(dir, project + ".dll");
    }
}
