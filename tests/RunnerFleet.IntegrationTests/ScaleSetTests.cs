using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.IntegrationTests;

/// <summary>A scale-set pool: the controller listens to its scale set's message queue and serves its jobs on real Docker.</summary>
[Trait("Category", "ScaleSet")]
[Collection(nameof(DockerCollection))]
public sealed class ScaleSetTests(DockerEnvironment docker)
{
    private static readonly string[] s_runsOn = ["linux-set"];

    private static Dictionary<string, string> Pool() => new()
    {
        ["Name"] = "linux-set", ["Labels:0"] = "linux-set", ["Discovery"] = "ScaleSet", ["Scope"] = "octo/app", ["MaxRunners"] = "6",
    };

    [Fact]
    public async Task Thirty_jobs_through_a_scale_set_pool_are_each_served_once_and_every_runner_is_gone_after()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"], [Pool()],
            github: o => o.ScaleSetPollWait = TimeSpan.FromSeconds(1));
        for (var i = 0; i < 30; i++)
        {
            fleet.GitHub.QueueJobs("octo/app", s_runsOn, 1, TimeSpan.FromMilliseconds(300));
        }

        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync() && fleet.GitHub.AllRunners().Count == 0,
            TimeSpan.FromMinutes(3), fleet.DescribeAsync);

        var jobs = fleet.GitHub.AllJobs();
        Assert.Equal(30, jobs.Count);
        Assert.All(jobs, j => Assert.Equal((1, "success"), (j.Assignments, j.Conclusion)));
        var set = Assert.Single(fleet.GitHub.AllScaleSets());
        Assert.Equal("linux-set", set.Name);
        Assert.NotNull(set.Session);
        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        Assert.Equal(30, runners.Count(r => r.State == RunnerState.Gone && r.JobId is not null));
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
        // The scale set's jobs are its own: polling and webhooks did not make them demand elsewhere.
        Assert.All(await fleet.Store.ListJobsAsync(null, 100, TestContext.Current.CancellationToken), j => Assert.Equal("linux-set", j.Pool));
    }
}
