using RunnerFleet.Controller.Fleet;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.IntegrationTests;

/// <summary>GitHub misbehaves while jobs flow: every job is still served once and nothing is left behind.</summary>
[Trait("Category", "Faults")]
[Collection(nameof(DockerCollection))]
public sealed class GitHubFaultTests(DockerEnvironment docker)
{
    private static readonly Dictionary<string, string>[] s_pool =
        [new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "6" }];

    private static async Task AssertAllServedOnceAsync(FleetUnderTest fleet, int jobs)
    {
        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync() && fleet.GitHub.AllRunners().Count == 0,
            TimeSpan.FromMinutes(2), fleet.DescribeAsync);

        Assert.Equal(jobs, fleet.GitHub.AllJobs().Count);
        Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal(1, j.Assignments));
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
        var runners = await fleet.Store.ListRunnersAsync(100, CancellationToken.None);
        Assert.Equal(jobs, runners.Count(r => r.State == RunnerState.Gone));
    }

    [Fact]
    public async Task Server_errors_on_every_endpoint_are_retried_and_every_job_is_served_once()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"], s_pool);
        foreach (var prefix in new[] { "/repos/octo/app/actions/runs", "/repos/octo/app/actions/runners/generate-jitconfig", "/repos/octo/app/actions/runners" })
        {
            fleet.GitHub.AddFault(new SimFault { PathPrefix = prefix, Status = 502, Count = 3 });
            fleet.GitHub.AddFault(new SimFault { PathPrefix = prefix, Status = 503, Count = 2 });
        }

        fleet.GitHub.QueueJobs("octo/app", ["self-hosted", "linux"], 6, TimeSpan.FromSeconds(1));

        await AssertAllServedOnceAsync(fleet, 6);
    }

    [Fact]
    public async Task Secondary_rate_limits_with_retry_after_slow_the_fleet_but_lose_nothing()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"], s_pool);
        fleet.GitHub.AddFault(new SimFault { PathPrefix = "/repos/octo/app/actions/runners/generate-jitconfig", Status = 429, Count = 3, RetryAfterSeconds = 1 });
        fleet.GitHub.AddFault(new SimFault { PathPrefix = "/repos/octo/app/actions/runs", Status = 403, Count = 2, RetryAfterSeconds = 1 });

        fleet.GitHub.QueueJobs("octo/app", ["self-hosted", "linux"], 4, TimeSpan.FromSeconds(1));

        await AssertAllServedOnceAsync(fleet, 4);
    }

    [Fact]
    public async Task Lost_webhooks_are_made_up_by_polling()
    {
        // Webhooks on, but GitHub's deliveries go nowhere: the poller must find every job alone.
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"], s_pool, webhooks: false);
        fleet.GitHub.AddWebhook(new Uri("http://127.0.0.1:9/webhooks/github"), "lost");
        fleet.GitHub.QueueJobs("octo/app", ["self-hosted", "linux"], 5, TimeSpan.FromSeconds(1));

        await AssertAllServedOnceAsync(fleet, 5);
    }
}
