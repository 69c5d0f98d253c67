using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.IntegrationTests;

/// <summary>The per-pool policy that keeps pull requests from forks of public repositories off the fleet's machines.</summary>
[Trait("Category", "Security")]
[Collection(nameof(DockerCollection))]
public sealed class ForkPullRequestTests(DockerEnvironment docker)
{
    private static readonly string[] s_linux = ["self-hosted", "linux"];
    private static readonly string[] s_trusting = ["self-hosted", "trusting"];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_fork_pull_request_of_a_public_repository_gets_no_runner_unless_its_pool_allows_it(bool webhooks)
    {
        using var logs = new CapturedLogs();
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/public"],
        [
            new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "4" },
            // The test network is not the fleet's (no firewall of ours): this pool knowingly runs without one (IsolationTests test the firewall).
            new() { ["Name"] = "trusting", ["Labels:0"] = "trusting", ["MaxRunners"] = "4", ["AllowForkPullRequests"] = "true", ["Docker:RequireFirewall"] = "false" },
        ], webhooks: webhooks, logs: logs, extra: new Dictionary<string, string> { ["GitHub:Repositories:1"] = "octo/private", ["GitHub:Repositories:2"] = "octo/other" });
        fleet.GitHub.EnsureRepository("octo/private", isPrivate: true);
        var duration = TimeSpan.FromMilliseconds(500);

        var fromFork = fleet.GitHub.QueueJobs("octo/public", s_linux, 1, duration, "PR", "pull_request", "mallory/public");
        var targetFromFork = fleet.GitHub.QueueJobs("octo/public", s_linux, 1, duration, "PR target", "pull_request_target", "mallory/public");
        // Served jobs of the same labels run in other repositories: GitHub would hand a queued fork job to any idle runner of its repository (see the next test).
        var sameRepository = fleet.GitHub.QueueJobs("octo/other", s_linux, 1, duration, "PR", "pull_request", "octo/other");
        var push = fleet.GitHub.QueueJobs("octo/other", s_linux, 1, duration);
        var privateFork = fleet.GitHub.QueueJobs("octo/private", s_linux, 1, duration, "PR", "pull_request", "someone/private");
        var trusted = fleet.GitHub.QueueJobs("octo/public", s_trusting, 1, duration, "PR", "pull_request", "mallory/public");
        var served = new[] { sameRepository, push, privateFork, trusted }.Select(r => r.Jobs[0].Id).ToHashSet();
        var refused = new[] { fromFork, targetFromFork }.Select(r => r.Jobs[0].Id).ToHashSet();

        await FleetUnderTest.WaitUntilAsync(async () =>
                fleet.GitHub.AllJobs().Where(j => served.Contains(j.Id)).All(j => j.Status == "completed") && await fleet.AllFinalAsync()
                && (await fleet.Store.ListJobsAsync(JobStatus.Queued, 100, CancellationToken.None)).Count(j => j.Refusal is not null) == 2,
            TimeSpan.FromMinutes(2), fleet.DescribeAsync);

        // Refused jobs stay queued on GitHub, nobody took them, and no runner was made for them.
        Assert.All(fleet.GitHub.AllJobs().Where(j => refused.Contains(j.Id)), j => Assert.Equal(("queued", 0), (j.Status, j.Assignments)));
        Assert.Equal(4, (await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken)).Count);
        var stored = await fleet.Store.ListJobsAsync(null, 100, TestContext.Current.CancellationToken);
        Assert.All(stored.Where(j => refused.Contains(j.Id)), j =>
        {
            Assert.Null(j.Pool);
            Assert.Contains("from fork mallory/public of public repository octo/public", j.Refusal, StringComparison.Ordinal);
        });
        Assert.All(stored.Where(j => served.Contains(j.Id)), j => Assert.Null(j.Refusal));

        // Operators see why: one log line per refused job, and the reason in the API.
        Assert.Equal(2, logs.Lines.Count(l => l.Contains("gets no runner", StringComparison.Ordinal) && l.Contains("AllowForkPullRequests is off", StringComparison.Ordinal)));
        using var http = new HttpClient { BaseAddress = fleet.ControllerUrl };
        var api = await http.GetFromJsonAsync<JsonElement>("/api/jobs?status=queued", TestContext.Current.CancellationToken);
        Assert.Equal(2, api.EnumerateArray().Count(j => j.GetProperty("refusal").GetString()?.Contains("fork", StringComparison.Ordinal) == true));

        // Still refused after more polls: the decision sticks.
        await fleet.App.Services.GetRequiredService<RunnerFleet.Controller.Channels.Rest.RestPollingJobSource>().PollAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2, (await fleet.Store.ListJobsAsync(JobStatus.Queued, 100, TestContext.Current.CancellationToken)).Count(j => j.Refusal is not null && j.Pool is null));
    }

    [Fact]
    public async Task A_refused_job_that_a_runner_of_its_repository_takes_anyway_has_its_run_cancelled_and_the_runner_destroyed()
    {
        using var logs = new CapturedLogs();
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/public"],
            [new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "4" }], logs: logs);

        // The fork's job is older: the runner made for the push job is handed the fork's job first, as GitHub would.
        var fork = fleet.GitHub.QueueJobs("octo/public", s_linux, 1, TimeSpan.FromSeconds(30), "PR", "pull_request", "mallory/public").Jobs[0];
        var push = fleet.GitHub.QueueJobs("octo/public", s_linux, 1, TimeSpan.FromMilliseconds(500)).Jobs[0];

        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync(), TimeSpan.FromMinutes(2), fleet.DescribeAsync);

        var jobs = fleet.GitHub.AllJobs().ToDictionary(j => j.Id);
        Assert.Equal("success", jobs[push.Id].Conclusion);
        Assert.Equal("cancelled", jobs[fork.Id].Conclusion);
        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        var violator = Assert.Single(runners, r => r.State == RunnerState.Failed);
        Assert.Contains("which policy refused", violator.FailureReason, StringComparison.Ordinal);
        Assert.Contains(logs.Lines, l => l.Contains("cancelling its run and destroying the runner", StringComparison.Ordinal));
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
    }
}
