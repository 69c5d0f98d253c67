using System.Net.Http.Json;
using System.Text.Json;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.IntegrationTests;

/// <summary>ARM64 runners without ARM hardware: arm64 containers on the x86 engine through QEMU user-mode emulation.</summary>
[Trait("Category", "Emulation")]
[Collection(nameof(DockerCollection))]
public sealed class EmulationTests(DockerEnvironment docker)
{
    [Fact]
    public async Task An_arm64_job_is_served_by_an_emulated_container_whose_runner_reports_aarch64()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"],
        [
            new() { ["Name"] = "emulated", ["Labels:0"] = "linux", ["Labels:1"] = "arm64", ["MaxRunners"] = "2",
                    ["Docker:Platform"] = "linux/arm64", ["Docker:Image"] = "runnerfleet/sim-runner:arm64" },
        ]);
        var run = fleet.GitHub.QueueJobs("octo/app", ["self-hosted", "linux", "arm64"], 2, TimeSpan.FromSeconds(1));

        await FleetUnderTest.WaitUntilAsync(async () => run.Jobs.All(j => j.Status == "completed") && await fleet.AllFinalAsync(), TimeSpan.FromMinutes(2), fleet.DescribeAsync);

        Assert.All(run.Jobs, j => Assert.Equal("aarch64", j.RunnerMachine));
        Assert.All(await fleet.Store.ListRunnersAsync(10, TestContext.Current.CancellationToken), r => Assert.Equal(RunnerState.Gone, r.State));
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
    }

    [Fact]
    public async Task A_platform_the_engine_cannot_run_is_reported_at_start_and_its_jobs_go_to_the_overflow_pool()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"],
        [
            // The native image has no s390x variant: the engine cannot run this pool's runners.
            new() { ["Name"] = "mainframe", ["Labels:0"] = "linux", ["Labels:1"] = "arm64", ["MaxRunners"] = "2", ["Overflow"] = "native",
                    ["Docker:Platform"] = "linux/s390x", ["Docker:Image"] = DockerEnvironment.Image },
            new() { ["Name"] = "native", ["Labels:0"] = "linux", ["Labels:1"] = "arm64", ["MaxRunners"] = "2" },
        ]);
        using var http = new HttpClient();
        var pools = await http.GetFromJsonAsync<JsonElement>(new Uri(fleet.ControllerUrl, "/api/pools"), TestContext.Current.CancellationToken);
        var mainframe = pools.EnumerateArray().Single(p => p.GetProperty("name").GetString() == "mainframe");
        Assert.Contains("linux/s390x", mainframe.GetProperty("unavailable").GetString(), StringComparison.Ordinal);

        var run = fleet.GitHub.QueueJobs("octo/app", ["self-hosted", "linux", "arm64"], 1, TimeSpan.FromMilliseconds(300));
        await FleetUnderTest.WaitUntilAsync(async () => run.Jobs.All(j => j.Status == "completed") && await fleet.AllFinalAsync(), TimeSpan.FromMinutes(1), fleet.DescribeAsync);

        Assert.All(await fleet.Store.ListRunnersAsync(10, TestContext.Current.CancellationToken), r => Assert.Equal("native", r.Pool));
    }
}
