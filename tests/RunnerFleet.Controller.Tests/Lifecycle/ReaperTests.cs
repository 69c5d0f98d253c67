using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Lifecycle;

namespace RunnerFleet.Controller.Tests.Lifecycle;

public sealed class ReaperTests
{
    [Fact]
    public async Task A_dead_controllers_requested_runners_are_adopted_or_failed_and_a_live_controllers_are_left_alone()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);
        // Another controller checked in, requested three runners and died: its heartbeat is a minute old.
        await fleet.Store.HeartbeatAsync("dead-node", ct);
        var started = await InsertRequestedAsync(fleet, "dead-node", 501, ct);
        var neverStarted = await InsertRequestedAsync(fleet, "dead-node", 502, ct);
        var neverCreated = await InsertRequestedAsync(fleet, "dead-node", 503, ct);
        fleet.Provider.Add(started.Name, ProvisionedStatus.Running);
        fleet.Provider.Add(neverStarted.Name, ProvisionedStatus.Created);
        await fleet.AdvanceAsync(TimeSpan.FromMinutes(1), ct);
        var ours = await InsertRequestedAsync(fleet, fleet.Node.Id, 504, ct);

        await fleet.Reaper.ReapAsync(ct);

        var adopted = await fleet.RunnerAsync(started.Id, ct);
        Assert.Equal(RunnerState.Provisioning, adopted.State);
        Assert.Equal($"res-{started.Name}", adopted.ProviderResourceId);
        Assert.Equal(FakeProvider.Endpoint, adopted.ProviderEndpoint);
        Assert.Equal(fleet.Time.GetUtcNow(), adopted.CreatedAt);
        Assert.NotNull(fleet.Provider.Find(started.Name));

        var stopped = await fleet.RunnerAsync(neverStarted.Id, ct);
        Assert.Equal(RunnerState.Failed, stopped.State);
        Assert.Equal("the controller stopped before the runner started", stopped.FailureReason);
        Assert.Null(fleet.Provider.Find(neverStarted.Name));

        var failed = await fleet.RunnerAsync(neverCreated.Id, ct);
        Assert.Equal(RunnerState.Failed, failed.State);
        Assert.Equal("the controller stopped before the runner was created", failed.FailureReason);
        Assert.Equal(fleet.Time.GetUtcNow(), failed.DestroyedAt);

        // The failed ones lose their GitHub registration; the adopted one and the live node's keep theirs.
        Assert.Equal(2, fleet.Channel.Deregistered.Count);
        Assert.Contains(neverStarted.Name, fleet.Channel.Deregistered);
        Assert.Contains(neverCreated.Name, fleet.Channel.Deregistered);
        Assert.Equal(RunnerState.Requested, (await fleet.RunnerAsync(ours.Id, ct)).State);
    }

    [Fact]
    public async Task A_runner_missing_from_a_list_read_before_it_was_made_is_not_gone_one_missing_from_a_later_list_is()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);
        // A shared list (Hetzner's) read before the runner's server was made, by another controller say.
        fleet.Provider.ListedAt = fleet.Time.GetUtcNow();
        await fleet.AdvanceAsync(TimeSpan.FromSeconds(1), ct);
        var runner = await fleet.ProvisionAsync(ct);
        fleet.Provider.Hide(runner.Name);
        await fleet.AdvanceAsync(TimeSpan.FromMinutes(1), ct);

        await fleet.Reaper.ReapAsync(ct);

        Assert.Equal(RunnerState.Provisioning, (await fleet.RunnerAsync(runner.Id, ct)).State);

        // A list read after it was made does not have it: it is gone.
        fleet.Provider.ListedAt = fleet.Time.GetUtcNow();
        await fleet.Reaper.ReapAsync(ct);

        var failed = await fleet.RunnerAsync(runner.Id, ct);
        Assert.Equal(RunnerState.Failed, failed.State);
        Assert.Equal("its resource disappeared before it took a job", failed.FailureReason);
    }

    [Fact]
    public async Task A_runner_that_exits_without_taking_a_job_fails_and_is_removed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);
        var runner = await fleet.ProvisionAsync(ct);
        await fleet.AdvanceAsync(TimeSpan.FromSeconds(20), ct);
        fleet.Provider.Exit(runner.Name, 1);

        await fleet.Reaper.ReapAsync(ct);

        var failed = await fleet.RunnerAsync(runner.Id, ct);
        Assert.Equal(RunnerState.Failed, failed.State);
        Assert.Equal("runner exited (code 1) without taking a job", failed.FailureReason);
        Assert.Null(failed.CompletedAt);
        Assert.Equal(fleet.Time.GetUtcNow(), failed.DestroyedAt);
        Assert.Null(fleet.Provider.Find(runner.Name));
        Assert.Contains(runner.Name, fleet.Channel.Deregistered);
    }

    [Fact]
    public async Task A_runner_that_github_deregistered_ran_its_job_and_is_completed_and_torn_down_on_exit()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);
        var runner = await fleet.ProvisionAsync(ct);
        await fleet.AdvanceAsync(TimeSpan.FromMinutes(3), ct);
        // No job source saw its job, but GitHub removed the ephemeral runner after it.
        fleet.Channel.GoneFromGitHub.Add(runner.Name);
        fleet.Provider.Exit(runner.Name, 0);

        await fleet.Reaper.ReapAsync(ct);

        var gone = await fleet.RunnerAsync(runner.Id, ct);
        Assert.Equal(RunnerState.Gone, gone.State);
        Assert.Null(gone.FailureReason);
        Assert.Equal(fleet.Time.GetUtcNow(), gone.CompletedAt);
        Assert.Equal(fleet.Time.GetUtcNow(), gone.DestroyedAt);
        Assert.Equal([RunnerState.Requested, RunnerState.Provisioning, RunnerState.Completed, RunnerState.Destroying, RunnerState.Gone], await fleet.StatesAsync(runner.Id, ct));
        Assert.Null(fleet.Provider.Find(runner.Name));
        Assert.Equal(1, fleet.Signals.DemandChangedCount);
    }

    [Fact]
    public async Task A_runner_that_exits_after_its_job_is_torn_down_without_a_deregistration()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);
        var runner = await fleet.ProvisionAsync(ct);
        await fleet.AdvanceAsync(TimeSpan.FromSeconds(30), ct);
        await fleet.Ingestor.IngestAsync([LifecycleFixture.Job(4301, JobStatus.InProgress) with { RunnerName = runner.Name, StartedAt = fleet.Time.GetUtcNow() }], "poll", FakeChannel.KindName, ct);
        Assert.Equal(RunnerState.Busy, (await fleet.RunnerAsync(runner.Id, ct)).State);
        await fleet.AdvanceAsync(TimeSpan.FromMinutes(5), ct);
        fleet.Provider.Exit(runner.Name, 0);

        await fleet.Reaper.ReapAsync(ct);

        var gone = await fleet.RunnerAsync(runner.Id, ct);
        Assert.Equal(RunnerState.Gone, gone.State);
        Assert.Equal(4301L, gone.JobId);
        Assert.Equal(fleet.Time.GetUtcNow(), gone.CompletedAt);
        Assert.Null(fleet.Provider.Find(runner.Name));
        // GitHub removes an ephemeral runner after its one job: nobody asks it to.
        Assert.Empty(fleet.Channel.DeregisterCalls);
    }

    [Fact]
    public async Task An_idle_runner_retired_as_github_hands_it_a_job_keeps_its_github_runner_and_its_machine()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);
        var runner = await fleet.ProvisionAsync(ct);
        await fleet.Get<RunnerTracker>().OnRunnersAsync([new GitHubRunner(runner.GitHubRunnerId.GetValueOrDefault(), runner.Name, "Linux", "online", Busy: false, Ephemeral: true, Labels: null)], ct);
        Assert.Equal(RunnerState.Idle, (await fleet.RunnerAsync(runner.Id, ct)).State);
        await fleet.AdvanceAsync(fleet.Pool.IdleTimeout + TimeSpan.FromMinutes(1), ct);
        fleet.Channel.Busy.Add(runner.Name);

        var plan = await fleet.Get<PlanExecutor>().RunAsync(ct);

        Assert.Equal(RetirementKind.IdleTimeout, Assert.Single(plan.Retirements).Kind);
        // GitHub is asked first and keeps a busy runner: the retirement stops there, and the job keeps its machine.
        var kept = await fleet.RunnerAsync(runner.Id, ct);
        Assert.Equal(RunnerState.Idle, kept.State);
        Assert.Null(kept.DestroyedAt);
        Assert.Contains(runner.Name, fleet.Channel.DeregisterCalls);
        Assert.DoesNotContain(runner.Name, fleet.Channel.Deregistered);
        Assert.NotNull(fleet.Provider.Find(runner.Name));

        // Not busy: GitHub lets it go, then its machine goes, and it is not asked again.
        fleet.Channel.Busy.Remove(runner.Name);
        await fleet.Get<PlanExecutor>().RunAsync(ct);
        var gone = await fleet.RunnerAsync(runner.Id, ct);
        Assert.Equal(RunnerState.Gone, gone.State);
        Assert.Null(fleet.Provider.Find(runner.Name));
        Assert.Equal(1, fleet.Channel.Deregistered.Count(n => n == runner.Name));
    }

    private static async Task<RunnerRecord> InsertRequestedAsync(LifecycleFixture fleet, string owner, long gitHubRunnerId, CancellationToken ct)
    {
        var record = new RunnerRecord
        {
            Id = Guid.NewGuid().ToString("N"), Name = RunnerNames.Create("test", "linux"), Pool = "linux", Provider = FakeProvider.KindName, Scope = "octo/app",
            State = RunnerState.Requested, RequestedAt = fleet.Time.GetUtcNow(), Owner = owner, GitHubRunnerId = gitHubRunnerId,
        };
        await fleet.Store.InsertRunnerAsync(record, ct);
        return record;
    }
}
