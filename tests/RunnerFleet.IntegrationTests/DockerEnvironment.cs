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

    public static async Task<(int Code, string Output, string Error)> DockerAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
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
