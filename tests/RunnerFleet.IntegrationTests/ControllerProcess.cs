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
        psi.ArgumentList.Add(Dll());
        if (sandbox)
        {
            psi.ArgumentList.Add("--sandbox");
        }

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

    /// <summary>The controller's built assembly, next to this test assembly's own build output.</summary>
    internal static string Dll()
    {
        // artifacts/bin/RunnerFleet.IntegrationTests/<config>/ → artifacts/bin/RunnerFleet.Controller/<config>/
        var dir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var controller = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(dir))!, "RunnerFleet.Controller", Path.GetFileName(dir), "RunnerFleet.Controller.dll");
        return File.Exists(controller) ? controller : Path.Combine(dir, "RunnerFleet.Controller.dll");
    }
}
