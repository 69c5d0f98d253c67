using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Tests.GitHub;

namespace RunnerFleet.Controller.Tests.Caching;

/// <summary>
/// The warm-cache trust rule against the GitHub simulator over HTTP: only a successful push, schedule or manual run of
/// the default branch, with its code in the repository itself, on the runner that asks, is trusted.
/// </summary>
[Trait("Category", "Cache")]
public sealed class CacheTrustTests : GitHubSimulatorFixture
{
    [Theory]
    [InlineData("push", null, "main", "success", true)]
    [InlineData("schedule", null, "main", "success", true)]
    [InlineData("workflow_dispatch", null, "main", "success", true)]
    [InlineData("push", null, "feature", "success", false)]
    [InlineData("push", null, "main", "failure", false)]
    [InlineData("pull_request", null, "feature", "success", false)]
    [InlineData("pull_request", null, "main", "success", false)]
    [InlineData("pull_request", "mallory/app", "main", "success", false)]
    [InlineData("pull_request_target", null, "main", "success", false)]
    [InlineData("workflow_run", null, "main", "success", false)]
    [InlineData("merge_group", null, "main", "success", false)]
    public async Task Only_successful_default_branch_runs_of_trusted_events_in_the_repository_itself_are_trusted(string @event, string? headRepository, string branch, string conclusion, bool trusted)
    {
        var (runner, jobId) = await RunJobAsync(@event, headRepository, branch, conclusion);

        var verdict = await Trust().JudgeAsync(Record(runner, jobId), "octo/app", TestContext.Current.CancellationToken);

        Assert.Equal(trusted, verdict.Trusted);
        Assert.Equal(trusted ? "trusted" : "untrusted", verdict.Outcome);
    }

    [Fact]
    public async Task A_job_another_runner_ran_a_job_of_another_repository_or_a_runner_without_a_job_is_not_trusted()
    {
        var (runner, jobId) = await RunJobAsync("push", null, "main", "success");
        var trust = Trust();
        var ct = TestContext.Current.CancellationToken;

        Assert.False((await trust.JudgeAsync(Record("someone-else", jobId), "octo/app", ct)).Trusted);
        Assert.Equal("undecided", (await trust.JudgeAsync(Record(runner, jobId), "octo/other", ct)).Outcome);
        Assert.False((await trust.JudgeAsync(Record(runner, null), "octo/app", ct)).Trusted);
        Assert.False((await trust.JudgeAsync(Record(runner, jobId) with { State = RunnerState.Failed }, "octo/app", ct)).Trusted);
        Assert.True((await trust.JudgeAsync(Record(runner, jobId), "octo/app", ct)).Trusted);
    }

    /// <summary>A tag's run has the tag's name as head_branch; a tag may be named like the default branch.</summary>
    [Fact]
    public async Task A_tag_named_like_the_default_branch_is_not_trusted()
    {
        var name = $"runner-{Guid.NewGuid():N}"[..16];
        Sim.QueueJobs("octo/app", ["self-hosted", "linux"], 1, TimeSpan.FromSeconds(1), @event: "push", headBranch: "main", tag: true);
        var (_, runner, _) = Sim.RegisterJitRunner("octo/app", name, 1, ["self-hosted", "linux"]);
        Sim.OpenSession(runner!);
        var job = await Sim.AcquireJobAsync(runner!, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.True(Sim.CompleteJob(runner!, job!.Id, "success"));

        var verdict = await Trust().JudgeAsync(Record(name, job.Id), "octo/app", TestContext.Current.CancellationToken);

        Assert.False(verdict.Trusted);
        Assert.Contains("is not on main", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_still_running_is_undecided()
    {
        Sim.QueueJobs("octo/app", ["self-hosted", "linux"], 1, TimeSpan.FromMinutes(1));
        var (_, sim, _) = Sim.RegisterJitRunner("octo/app", "runner-busy", 1, ["self-hosted", "linux"]);
        Sim.OpenSession(sim!);
        var job = await Sim.AcquireJobAsync(sim!, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var verdict = await Trust().JudgeAsync(Record("runner-busy", job!.Id), "octo/app", TestContext.Current.CancellationToken);

        Assert.Equal("undecided", verdict.Outcome);
    }

    private CacheTrust Trust()
    {
        var client = TestServices.GitHubClient(new GitHubOptions { ApiUrl = Server.BaseUrl, Token = "sandbox-token" });
        // A repository-scoped cache names its repository: the store is not asked.
        return new CacheTrust(client, new SqliteFleetStore($"Data Source={Path.Combine(Path.GetTempPath(), $"never-{Guid.NewGuid():N}.db")}", TimeProvider.System), TimeProvider.System);
    }

    private async Task<(string Runner, long JobId)> RunJobAsync(string @event, string? headRepository, string branch, string conclusion)
    {
        var name = $"runner-{Guid.NewGuid():N}"[..16];
        Sim.QueueJobs("octo/app", ["self-hosted", "linux"], 1, TimeSpan.FromSeconds(1), @event: @event, headRepository: headRepository, headBranch: branch);
        var (_, runner, _) = Sim.RegisterJitRunner("octo/app", name, 1, ["self-hosted", "linux"]);
        Sim.OpenSession(runner!);
        var job = await Sim.AcquireJobAsync(runner!, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.True(Sim.CompleteJob(runner!, job!.Id, conclusion));
        return (name, job.Id);
    }

    private static RunnerRecord Record(string name, long? jobId) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Name = name,
        Pool = "cached",
        Provider = "docker",
        Scope = "octo/app",
        State = RunnerState.Completed,
        JobId = jobId,
        RequestedAt = DateTimeOffset.UtcNow,
    };
}
