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
    public async Task A_refused_job_that_a_runner_of_its_repository_takes_anyway_fails_before_its_first_step_and_the_runner_is_destroyed()
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
        // None of its steps ran: the runner's own pre-job hook refused it, or the controller cancelled the run first.
        Assert.Contains(jobs[fork.Id].Conclusion, new[] { "failure", "cancelled" });
        Assert.False(jobs[fork.Id].StepsRan);
        Assert.True(jobs[push.Id].StepsRan);
        // The runner is gone with its job (the controller retires it too, if it sees the job before the runner exits).
        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        Assert.True(RunnerStateMachine.IsFinal(Assert.Single(runners, r => r.Name == jobs[fork.Id].RunnerName).State));
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
    }

    /// <summary>
    /// With polling only and an idle runner waiting, a fork's job is taken within moments and first seen
    /// in progress (a lost webhook or a restart does the same): the old policy allowed every job not seen queued.
    /// </summary>
    [Fact]
    public async Task A_fork_job_an_idle_runner_takes_before_the_controller_sees_it_is_refused_on_the_runner_by_the_pre_job_hook()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/public"],
            [new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "2", ["MinIdle"] = "1" }], webhooks: false,
            extra: new Dictionary<string, string> { ["GitHub:PollInterval"] = "01:00:00" });
        await WaitForIdleRunnerAsync(fleet);

        var fork = fleet.GitHub.QueueJobs("octo/public", s_linux, 1, TimeSpan.FromMinutes(5), "PR", "pull_request", "mallory/public").Jobs[0];

        await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(fleet.GitHub.AllJobs().Single(j => j.Id == fork.Id).Status == "completed"), TimeSpan.FromMinutes(2), fleet.DescribeAsync);
        var job = fleet.GitHub.AllJobs().Single(j => j.Id == fork.Id);
        Assert.Equal(("failure", false), (job.Conclusion, job.StepsRan));
    }

    /// <summary>
    /// The controller's layer, for runners whose image runs no hook: a job judged on one of our runners whatever
    /// its status. Refused: the run is cancelled and the runner destroyed; a 403 on cancel (no "actions: write")
    /// is an error line and a metric, and the runner is destroyed all the same.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_fork_job_first_seen_in_progress_on_our_runner_is_contained(bool cancelForbidden)
    {
        using var logs = new CapturedLogs();
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/public"], [WithoutHook()], webhooks: false, logs: logs,
            extra: new Dictionary<string, string> { ["GitHub:PollInterval"] = "01:00:00" });
        await WaitForIdleRunnerAsync(fleet);
        if (cancelForbidden)
        {
            fleet.GitHub.AddFault(new RunnerFleet.Sandbox.GitHub.SimFault { PathPrefix = "/repos/octo/public/actions/runs/", PathContains = "/cancel", Method = "POST", Status = 403, Count = 100 });
        }

        var fork = fleet.GitHub.QueueJobs("octo/public", s_linux, 1, TimeSpan.FromMinutes(5), "PR", "pull_request", "mallory/public").Jobs[0];
        await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(fleet.GitHub.AllJobs().Single(j => j.Id == fork.Id).Status == "in_progress"), TimeSpan.FromMinutes(2), fleet.DescribeAsync);
        var runnerName = fleet.GitHub.AllJobs().Single(j => j.Id == fork.Id).RunnerName;

        // The next poll sees it in progress on our runner.
        await fleet.App.Services.GetRequiredService<RunnerFleet.Controller.Channels.Rest.RestPollingJobSource>().PollAsync(TestContext.Current.CancellationToken);

        await FleetUnderTest.WaitUntilAsync(async () => (await fleet.Store.FindRunnerByNameAsync(runnerName!, CancellationToken.None))?.State == RunnerState.Failed
                && (await DockerEnvironment.DockerAsync("ps", "-aq", "--filter", $"name={runnerName}")).Output.Trim().Length == 0
                && (cancelForbidden || fleet.GitHub.AllJobs().Single(j => j.Id == fork.Id).Status == "completed"),
            TimeSpan.FromMinutes(2), fleet.DescribeAsync);
        var job = fleet.GitHub.AllJobs().Single(j => j.Id == fork.Id);
        var runner = await fleet.Store.FindRunnerByNameAsync(runnerName!, TestContext.Current.CancellationToken);
        Assert.Contains("which policy refused", runner!.FailureReason, StringComparison.Ordinal);
        if (cancelForbidden)
        {
            // Not cancelled, but its runner is gone: the job cannot succeed.
            Assert.NotEqual("success", job.Conclusion);
            Assert.Contains(logs.Lines, l => l.Contains("lacks \"actions: write\"", StringComparison.Ordinal));
        }
        else
        {
            Assert.Equal("cancelled", job.Conclusion);
        }
    }

    /// <summary>Undecided on our runner (the run cannot be read) means contained: the runner is destroyed, fail closed.</summary>
    [Fact]
    public async Task A_job_on_our_runner_whose_run_cannot_be_read_stops_the_runner()
    {
        using var logs = new CapturedLogs();
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/public"], [WithoutHook()], webhooks: true, logs: logs,
            extra: new Dictionary<string, string> { ["GitHub:PollInterval"] = "01:00:00" });
        await WaitForIdleRunnerAsync(fleet);
        // Webhooks carry no run origin; every read of a run fails (GET /repos/…/actions/runs/{id}, never its jobs list).
        fleet.GitHub.AddFault(new RunnerFleet.Sandbox.GitHub.SimFault { PathPrefix = "/repos/octo/public/actions/runs/", Method = "GET", Status = 404, Count = 1000 });

        var fork = fleet.GitHub.QueueJobs("octo/public", s_linux, 1, TimeSpan.FromMinutes(5), "PR", "pull_request", "mallory/public").Jobs[0];
        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().Single(j => j.Id == fork.Id).RunnerName is { } name
                && (await fleet.Store.FindRunnerByNameAsync(name, CancellationToken.None))?.State == RunnerState.Failed
                && (await DockerEnvironment.DockerAsync("ps", "-aq", "--filter", $"name={name}")).Output.Trim().Length == 0,
            TimeSpan.FromMinutes(2), fleet.DescribeAsync);

        var job = fleet.GitHub.AllJobs().Single(j => j.Id == fork.Id);
        Assert.NotEqual("success", job.Conclusion);
        var runner = await fleet.Store.FindRunnerByNameAsync(job.RunnerName!, TestContext.Current.CancellationToken);
        Assert.Contains("could not be checked (fail closed)", runner!.FailureReason, StringComparison.Ordinal);
        Assert.Contains(logs.Lines, l => l.Contains("destroying the runner (fail closed)", StringComparison.Ordinal));
    }

    /// <summary>A pool whose runners start <c>run.sh</c> without the pre-job hook (an image that ignores it): only the controller guards it.</summary>
    private static Dictionary<string, string> WithoutHook() => new()
    {
        ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "2", ["MinIdle"] = "1",
        ["Docker:Command:0"] = "/bin/sh", ["Docker:Command:1"] = "-c", ["Docker:Command:2"] = "unset ACTIONS_RUNNER_HOOK_JOB_STARTED; exec /home/runner/run.sh",
    };

    private static Task WaitForIdleRunnerAsync(FleetUnderTest fleet) =>
        FleetUnderTest.WaitUntilAsync(() => Task.FromResult(fleet.GitHub.AllRunners().Any(r => fleet.GitHub.IsOnline(r) && r.Job is null)), TimeSpan.FromMinutes(2), fleet.DescribeAsync);
}
