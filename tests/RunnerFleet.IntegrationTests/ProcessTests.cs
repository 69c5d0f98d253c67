using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace RunnerFleet.IntegrationTests;

/// <summary>The controller as a user runs it: a separate process, its command line, its exit code.</summary>
[Trait("Category", "EndToEnd")]
[Collection(nameof(DockerCollection))]
public sealed class ProcessTests
{
    private static Process Start(string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir };
        // The README's sandbox command runs the sandbox host; everything else is the controller.
        psi.ArgumentList.Add(args.FirstOrDefault() == "--sandbox" ? ControllerProcess.Dll("RunnerFleet.Sandbox") : ControllerProcess.Dll());
        args = [.. args.Where(a => a != "--sandbox")];
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        return Process.Start(psi)!;
    }

    [Fact]
    public async Task Invalid_configuration_stops_start_up_with_a_message_naming_the_key()
    {
        var dir = Directory.CreateTempSubdirectory("rf-cfg-").FullName;
        using var p = Start(dir, "--GitHub:Token=ghp_notreal", "--GitHub:Repositories:0=octo/app", "--Fleet:Pools:0:Name=linux",
            "--Fleet:Pools:0:Labels:0=linux", "--Fleet:Pools:0:Provider=kubernetes", "--Fleet:Pools:0:MinIdle=9", "--Fleet:Pools:0:MaxRunners=2", "--Urls=http://127.0.0.1:0");
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.Equal(2, p.ExitCode);
        var error = await stderr;
        Assert.Contains("Fleet:Pools:0:Provider", error, StringComparison.Ordinal);
        Assert.Contains("Fleet:Pools:0:MinIdle", error, StringComparison.Ordinal);
        Assert.DoesNotContain("ghp_notreal", error + await stdout, StringComparison.Ordinal);
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task The_standalone_simulator_stops_on_sigterm()
    {
        // Before: its web host took SIGTERM, logged "Application is shutting down" and the process never exited.
        var port = FleetUnderTest.FreePort();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        foreach (var a in new[] { ControllerProcess.Dll("RunnerFleet.Sandbox"), "--simulators-only", "--github-url", $"http://127.0.0.1:{port}" })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var http = new HttpClient();
        await FleetUnderTest.WaitUntilAsync(async () =>
        {
            try
            {
                return (await http.GetAsync($"http://127.0.0.1:{port}/", TestContext.Current.CancellationToken)).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromMinutes(1), () => Task.FromResult("the simulator did not answer"));

        using (var term = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await p.WaitForExitAsync(exited.Token);
        Assert.Equal(0, p.ExitCode);
        Assert.Contains("GitHub simulator listening", await output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sandbox_command_shows_completed_runners_within_a_minute()
    {
        var dir = Directory.CreateTempSubdirectory("rf-sandbox-").FullName;
        var port = FleetUnderTest.FreePort();
        using var p = Start(dir, "--sandbox", "--Urls", $"http://127.0.0.1:{port}");
        var output = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        p.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        using var http = new HttpClient();
        try
        {
            var url = new Uri($"http://127.0.0.1:{port}/api/runners");
            await FleetUnderTest.WaitUntilAsync(async () =>
            {
                try
                {
                    var runners = await http.GetFromJsonAsync<JsonElement>(url);
                    return runners.EnumerateArray().Any(r => r.GetProperty("state").GetString() == "Gone" && r.GetProperty("jobId").ValueKind == JsonValueKind.Number);
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), () => Task.FromResult(output.ToString()));

            lock (output)
            {
                Assert.Contains($"http://127.0.0.1:{port}/api/runners", output.ToString(), StringComparison.Ordinal);
            }
        }
        finally
        {
            using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(CancellationToken.None);
            }

            if (!p.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                p.Kill(entireProcessTree: true);
            }

            foreach (var id in await DockerEnvironment.ContainersAsync("sandbox"))
            {
                await DockerEnvironment.DockerAsync("rm", "-f", id);
            }

            Directory.Delete(dir, true);
        }
    }
}
