using System.Diagnostics;
using System.Text.Json;

[assembly: AssemblyFixture(typeof(RunnerFleet.IntegrationTests.DockerEnvironment))]

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// The real Docker engine for the end-to-end tests: checks the engine and the simulated runner image,
/// and makes a bridge network of this run's own, on whose gateway the simulators listen. Removes every
/// container the run's fleets left, and the network, at the end.
/// </summary>
public sealed class DockerEnvironment : IAsyncLifetime
{
    public const string Image = "runnerfleet/sim-runner:latest";

    public string Network { get; } = $"rf-it-{Guid.NewGuid():N}"[..14];

    public string Gateway { get; private set; } = string.Empty;

    public async ValueTask InitializeAsync()
    {
        var (code, _, err) = await DockerAsync("image", "inspect", Image);
        if (code != 0)
        {
            throw new InvalidOperationException($"The end-to-end tests need the Docker image {Image} (build it with infra/sim-runner/build.sh) and a running Docker engine: {err.Trim()}");
        }

        (code, _, err) = await DockerAsync("network", "create", "--driver", "bridge", "--label", "runnerfleet.test=1", Network);
        if (code != 0)
        {
            throw new InvalidOperationException($"docker network create failed: {err.Trim()}");
        }

        var (_, json, _) = await DockerAsync("network", "inspect", Network);
        using var doc = JsonDocument.Parse(json);
        Gateway = doc.RootElement[0].GetProperty("IPAM").GetProperty("Config")[0].GetProperty("Gateway").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in await ContainersAsync(null))
        {
            await DockerAsync("rm", "-f", id);
        }

        await DockerAsync("network", "rm", Network);
    }

    /// <summary>Containers labelled with a test fleet (all test fleets when <paramref name="fleet"/> is null).</summary>
    public static async Task<IReadOnlyList<string>> ContainersAsync(string? fleet)
    {
        var (_, output, _) = await DockerAsync("ps", "-aq", "--filter", fleet is null ? "label=runnerfleet.fleet" : $"label=runnerfleet.fleet={fleet}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>
    /// Restarts the Docker engine as its operator would: <c>systemctl restart docker</c> where systemd runs
    /// it, else SIGTERM to dockerd (its containers are stopped) and the same command line started again.
    /// Returns when the engine answers again.
    /// </summary>
    public static async Task RestartEngineAsync()
    {
        if (Directory.Exists("/run/systemd/system") && (await RunAsync("systemctl", "is-active", "--quiet", "docker")).Code == 0)
        {
            await RunAsync("systemctl", "restart", "docker");
        }
        else
        {
            // The engine of /var/run/docker.sock (its pid file), not any dockerd: a test may run a second one.
            var pid = File.Exists("/var/run/docker.pid")
                ? int.Parse((await File.ReadAllTextAsync("/var/run/docker.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture)
                : int.Parse((await RunAsync("pidof", "-s", "dockerd")).Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
            var command = (await File.ReadAllTextAsync($"/proc/{pid}/cmdline")).TrimEnd('\0').Split('\0');
            await RunAsync("kill", "-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            for (var i = 0; i < 600 && Directory.Exists($"/proc/{pid}"); i++)
            {
                await Task.Delay(100);
            }

            // Detached from the test run (its own session), logging where scripts/prepare.sh logs.
            var line = string.Join(' ', command.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
            await RunAsync("/bin/sh", "-c", $"setsid nohup {line} >>/tmp/runnerfleet-dockerd.log 2>&1 < /dev/null &");
        }

        for (var i = 0; i < 600; i++)
        {
            if ((await DockerAsync("info")).Code == 0)
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException("the Docker engine did not come back within a minute; see /tmp/runnerfleet-dockerd.log");
    }

    public static Task<(int Code, string Output, string Error)> DockerAsync(params string[] args) => RunAsync("docker", args);

    private static async Task<(int Code, string Output, string Error)> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await output, await error);
    }
}
