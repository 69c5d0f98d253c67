using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Lifecycle;

namespace RunnerFleet.Controller.Tests.Lifecycle;

public sealed class JobIngestorTests
{
    [Fact]
    public async Task A_job_whose_later_webhooks_were_missed_is_followed_to_the_end_by_polling()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);
        var planner = fleet.Get<PlanExecutor>();
        var job = LifecycleFixture.Job(4242);

        Assert.Equal(1, await fleet.Ingestor.IngestAsync([job], "webhook", FakeChannel.KindName, ct));
        Assert.Equal(1, fleet.Signals.DemandChangedCount);
        Assert.Equal(1, (await planner.RunAsync(ct)).TotalToProvision);
        var runner = Assert.Single(await fleet.Store.ListActiveRunnersAsync(ct));
        Assert.Equal(RunnerState.Provisioning, runner.State);

        // The in_progress and completed webhooks never come; polling sees the job on our runner, then done.
        await fleet.AdvanceAsync(TimeSpan.FromSeconds(20), ct);
        var startedAt = fleet.Time.GetUtcNow();
        var inProgress = job with { Status = JobStatus.InProgress, RunnerName = runner.Name, StartedAt = startedAt };
        Assert.Equal(0, await fleet.Ingestor.IngestAsync([inProgress], "poll", FakeChannel.KindName, ct));
        var busy = await fleet.RunnerAsync(runner.Id, ct);
        Assert.Equal(RunnerState.Busy, busy.State);
        Assert.Equal(job.Id, busy.JobId);
        Assert.Equal(startedAt, busy.BusyAt);
        Assert.Equal(0, (await planner.RunAsync(ct)).TotalToProvision);

        await fleet.AdvanceAsync(TimeSpan.FromMinutes(1), ct);
        var completedAt = fleet.Time.GetUtcNow();
        var completed = inProgress with { Status = JobStatus.Completed, CompletedAt = completedAt, Conclusion = "success" };
        Assert.Equal(0, await fleet.Ingestor.IngestAsync([completed], "poll", FakeChannel.KindName, ct));
        var done = await fleet.RunnerAsync(runner.Id, ct);
        Assert.Equal(RunnerState.Completed, done.State);
        Assert.Equal(completedAt, done.CompletedAt);
        Assert.Contains(runner.Name, fleet.Signals.Exited);
        var stored = Assert.Single(await fleet.Store.ListJobsAsync(null, 10, ct));
        Assert.Equal(JobStatus.Completed, stored.Status);
        Assert.Equal("success", stored.Conclusion);
        Assert.Equal(runner.Name, stored.RunnerName);

        // Its resource exits: torn down, the GitHub runner left to GitHub (an ephemeral runner is removed after its job).
        fleet.Provider.Exit(runner.Name, 0);
        await fleet.Reaper.ReapAsync(ct);
        Assert.Equal(
            [RunnerState.Requested, RunnerState.Provisioning, RunnerState.Busy, RunnerState.Completed, RunnerState.Destroying, RunnerState.Gone],
            await fleet.StatesAsync(runner.Id, ct));
        Assert.Null(fleet.Provider.Find(runner.Name));
        Assert.Empty(fleet.Channel.DeregisterCalls);
    }

    [Fact]
    public async Task The_same_queued_job_from_poll_and_webhook_at_once_is_one_demand()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);
        var ingestor = fleet.Ingestor;
        var job = LifecycleFixture.Job(4243);
        var sources = Enumerable.Range(0, 4).SelectMany(_ => new[] { "poll", "webhook" });

        var demand = await Task.WhenAll(sources.Select(source => Task.Run(() => ingestor.IngestAsync([job], source, FakeChannel.KindName, ct), ct)));

        Assert.Equal(1, demand.Sum());
        Assert.Equal(1, fleet.Signals.DemandChangedCount);
        var stored = Assert.Single(await fleet.Store.ListJobsAsync(null, 10, ct));
        Assert.Equal(job.Id, stored.Id);
        Assert.Equal(JobStatus.Queued, stored.Status);
        Assert.Equal("linux", stored.Pool);
        Assert.Equal("octo/app", stored.Scope);
    }
}
