using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.IntegrationTests;

/// <summary>The Docker engine goes away under a working fleet and comes back.</summary>
[Trait("Category", "Faults")]
[Collection(nameof(DockerCollection))]
public sealed class EngineFaultTests(DockerEnvironment docker)
{
    private static readonly string[] s_linux = ["self-hosted", "linux"];

    [Fact]
    public async Task A_docker_engine_restart_under_running_jobs_loses_no_record_and_leaves_nothing_behind()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"],
            [new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "3", ["BootTimeout"] = "00:00:45" }]);

        // Three jobs long enough to be running when the engine stops, three more waiting behind them.
        fleet.GitHub.QueueJobs("octo/app", s_linux, 3, TimeSpan.FromSeconds(60));
        await FleetUnderTest.WaitUntilAsync(async () => (await fleet.Store.ListActiveRunnersAsync(CancellationToken.None)).Count(r => r.State == RunnerState.Busy) == 3,
            TimeSpan.FromMinutes(1), fleet.DescribeAsync);
        var running = fleet.GitHub.AllJobs().Select(j => j.Id).ToHashSet();
        fleet.GitHub.QueueJobs("octo/app", s_linux, 3, TimeSpan.FromSeconds(1));

        await DockerEnvironment.RestartEngineAsync();

        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync() && fleet.GitHub.AllRunners().Count == 0,
            TimeSpan.FromMinutes(3), fleet.DescribeAsync);

        var jobs = fleet.GitHub.AllJobs();
        Assert.Equal(6, jobs.Count);
        Assert.All(jobs, j => Assert.Equal(1, j.Assignments));
        // The engine stopped the running jobs' containers: their runners reported the shutdown, as the real runner does.
        Assert.All(jobs.Where(j => running.Contains(j.Id)), j => Assert.Equal("failure", j.Conclusion));
        Assert.All(jobs.Where(j => !running.Contains(j.Id)), j => Assert.Equal("success", j.Conclusion));
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        Assert.All(runners, r => Assert.True(RunnerStateMachine.IsFinal(r.State), $"{r.Name} is {r.State}"));
        Assert.Equal(6, runners.Count(r => r.JobId is not null));
    }
}
