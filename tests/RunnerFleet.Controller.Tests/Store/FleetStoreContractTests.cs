using Microsoft.Extensions.Time.Testing;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Tests.Store;

/// <summary>What every <see cref="IFleetStore"/> must do; run against SQLite and PostgreSQL alike.</summary>
public abstract class FleetStoreContractTests : IAsyncLifetime
{
    protected readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private IFleetStore _store = null!;

    private protected abstract Task<IFleetStore> CreateStoreAsync();

    /// <summary>The schema versions recorded: (rows, highest).</summary>
    protected abstract Task<(int Rows, int Highest)> SchemaVersionsAsync();

    protected abstract int ExpectedSchemaVersion { get; }

    public async ValueTask InitializeAsync()
    {
        _store = await CreateStoreAsync();
        await _store.InitializeAsync(TestContext.Current.CancellationToken);
    }

    public abstract ValueTask DisposeAsync();

    [Fact]
    public async Task Migrations_are_idempotent_and_versioned()
    {
        await _store.InitializeAsync(TestContext.Current.CancellationToken);

        Assert.Equal((ExpectedSchemaVersion, ExpectedSchemaVersion), await SchemaVersionsAsync());
    }

    [Fact]
    public async Task Final_records_past_the_retention_are_pruned_and_live_ones_never()
    {
        var ct = TestContext.Current.CancellationToken;
        var gone = NewRunner("f-p-old") with { State = RunnerState.Gone };
        var live = NewRunner("f-p-live") with { State = RunnerState.Busy };
        await _store.InsertRunnerAsync(gone, ct);
        await _store.InsertRunnerAsync(live, ct);
        await _store.UpsertJobAsync(new JobRecord { Id = 4242, Repository = "o/r", Labels = ["self-hosted"], Status = JobStatus.Completed }, ct);
        await _store.UpsertJobAsync(new JobRecord { Id = 4243, Repository = "o/r", Labels = ["self-hosted"], Status = JobStatus.Queued }, ct);

        _time.Advance(TimeSpan.FromDays(31));
        var recent = NewRunner("f-p-recent") with { State = RunnerState.Failed };
        await _store.InsertRunnerAsync(recent, ct);

        Assert.Equal(3, await _store.PruneAsync(_time.GetUtcNow() - TimeSpan.FromDays(30), ct));
        Assert.Null(await _store.FindRunnerByNameAsync("f-p-old", ct));
        Assert.NotNull(await _store.FindRunnerByNameAsync("f-p-live", ct));
        Assert.NotNull(await _store.FindRunnerByNameAsync("f-p-recent", ct));
        Assert.Equal([4243L], (await _store.ListJobsAsync(null, 10, ct)).Select(j => j.Id));
    }

    private RunnerRecord NewRunner(string name = "f-p-1") => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Name = name,
        Pool = "p",
        Provider = "docker",
        Scope = "octo/app",
        State = RunnerState.Requested,
        RequestedAt = _time.GetUtcNow(),
    };

    [Fact]
    public async Task Runners_changed_since_a_time_are_those_written_at_or_after_it_whatever_their_state()
    {
        var ct = TestContext.Current.CancellationToken;
        var early = NewRunner("f-p-early");
        await _store.InsertRunnerAsync(early, ct);
        var t1 = _time.GetUtcNow().AddSeconds(5);
        _time.SetUtcNow(t1);
        var late = NewRunner("f-p-late");
        await _store.InsertRunnerAsync(late, ct);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(await _store.TransitionAsync(early with { State = RunnerState.Failed }, RunnerState.Requested, "test", ct));

        Assert.Equal(["f-p-early", "f-p-late"], (await _store.ListRunnersChangedSinceAsync(t1, ct)).Select(r => r.Name).Order());
        Assert.Equal([RunnerState.Failed], (await _store.ListRunnersChangedSinceAsync(t1.AddSeconds(1), ct)).Select(r => r.State));
        Assert.Empty(await _store.ListRunnersChangedSinceAsync(_time.GetUtcNow().AddMilliseconds(1), ct));
    }

    [Fact]
    public async Task Runners_gone_since_a_time_are_the_gone_ones_that_finished_after_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var t = _time.GetUtcNow();
        await _store.InsertRunnerAsync(NewRunner("f-p-gone-before") with { State = RunnerState.Gone, JobId = 1, CompletedAt = t.AddSeconds(-1) }, ct);
        await _store.InsertRunnerAsync(NewRunner("f-p-gone-after") with { State = RunnerState.Gone, JobId = 2, CompletedAt = t.AddSeconds(1) }, ct);
        await _store.InsertRunnerAsync(NewRunner("f-p-gone-unattributed") with { State = RunnerState.Gone, CompletedAt = t.AddSeconds(2) }, ct);
        await _store.InsertRunnerAsync(NewRunner("f-p-completed") with { State = RunnerState.Completed, JobId = 3, CompletedAt = t.AddSeconds(1) }, ct);
        await _store.InsertRunnerAsync(NewRunner("f-p-failed") with { State = RunnerState.Failed, CompletedAt = t.AddSeconds(1) }, ct);

        Assert.Equal(["f-p-gone-after", "f-p-gone-unattributed"], (await _store.ListGoneSinceAsync(t, ct)).Select(r => r.Name).Order());
        Assert.Empty(await _store.ListGoneSinceAsync(t.AddSeconds(2), ct));
    }

    [Fact]
    public async Task Round_trips_a_runner_with_every_field()
    {
        var r = NewRunner() with
        {
            State = RunnerState.Requested,
            ProviderResourceId = "abc",
            ProviderEndpoint = "local",
            GitHubRunnerId = 7,
            JobId = 99,
            CreatedAt = _time.GetUtcNow().AddSeconds(1),
            OnlineAt = _time.GetUtcNow().AddSeconds(2),
            BusyAt = _time.GetUtcNow().AddSeconds(3),
            CompletedAt = _time.GetUtcNow().AddSeconds(4),
            DestroyedAt = _time.GetUtcNow().AddSeconds(5),
            FailureReason = "why",
            Cost = 0.0123m,
        };
        await _store.InsertRunnerAsync(r, TestContext.Current.CancellationToken);

        Assert.Equal(r, await _store.GetRunnerAsync(r.Id, TestContext.Current.CancellationToken));
        Assert.Equal(r, await _store.FindRunnerByNameAsync(r.Name, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_transition_applies_only_from_the_expected_state_and_is_logged()
    {
        var r = NewRunner();
        await _store.InsertRunnerAsync(r, TestContext.Current.CancellationToken);
        var provisioning = r with { State = RunnerState.Provisioning, CreatedAt = _time.GetUtcNow() };

        Assert.True(await _store.TransitionAsync(provisioning, RunnerState.Requested, "created", TestContext.Current.CancellationToken));
        Assert.False(await _store.TransitionAsync(r with { State = RunnerState.Provisioning }, RunnerState.Requested, "again", TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<InvalidOperationException>(() => _store.TransitionAsync(r with { State = RunnerState.Requested }, RunnerState.Provisioning, "back", TestContext.Current.CancellationToken));

        var events = await _store.ListEventsAsync(r.Id, TestContext.Current.CancellationToken);
        Assert.Equal([(null, RunnerState.Requested), (RunnerState.Requested, RunnerState.Provisioning)], events.Select(e => ((RunnerState?)e.From, e.To)));
        Assert.Equal("created", events[1].Detail);
    }

    [Fact]
    public async Task Active_runners_exclude_final_states()
    {
        var live = NewRunner("f-p-live");
        var failed = NewRunner("f-p-failed");
        await _store.InsertRunnerAsync(live, TestContext.Current.CancellationToken);
        await _store.InsertRunnerAsync(failed, TestContext.Current.CancellationToken);
        await _store.TransitionAsync(failed with { State = RunnerState.Failed, FailureReason = "x" }, RunnerState.Requested, "x", TestContext.Current.CancellationToken);

        Assert.Equal(["f-p-live"], (await _store.ListActiveRunnersAsync(TestContext.Current.CancellationToken)).Select(r => r.Name));
        Assert.Equal(2, (await _store.ListRunnersAsync(10, TestContext.Current.CancellationToken)).Count);
    }

    [Fact]
    public async Task A_job_seen_twice_is_one_job_and_its_status_never_moves_back()
    {
        var job = new JobRecord { Id = 5, RunId = 1, Repository = "octo/app", Labels = ["self-hosted", "linux"], Status = JobStatus.Queued, Pool = "p", Scope = "octo/app", QueuedAt = _time.GetUtcNow() };

        var first = await _store.UpsertJobAsync(job, TestContext.Current.CancellationToken);
        var again = await _store.UpsertJobAsync(job, TestContext.Current.CancellationToken);
        var started = await _store.UpsertJobAsync(job with { Status = JobStatus.InProgress, RunnerName = "r1", StartedAt = _time.GetUtcNow() }, TestContext.Current.CancellationToken);
        var stale = await _store.UpsertJobAsync(job, TestContext.Current.CancellationToken);

        Assert.True(first.IsNew);
        Assert.False(again.IsNew);
        Assert.False(again.Changed);
        Assert.True(started.Changed);
        Assert.False(stale.Changed);
        Assert.Equal(JobStatus.InProgress, stale.Stored.Status);
        Assert.Equal("r1", stale.Stored.RunnerName);
        Assert.Equal(["self-hosted", "linux"], Assert.Single(await _store.ListJobsAsync(JobStatus.InProgress, 10, TestContext.Current.CancellationToken)).Labels);
        Assert.Empty(await _store.ListJobsAsync(JobStatus.Queued, 10, TestContext.Current.CancellationToken));
        Assert.Equal(5, (await _store.FindJobByRunnerAsync("r1", TestContext.Current.CancellationToken))?.Id);
        Assert.Null(await _store.FindJobByRunnerAsync("r2", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_refused_job_keeps_its_refusal_and_never_gets_a_pool_back()
    {
        var job = new JobRecord { Id = 7, RunId = 1, Repository = "octo/app", Labels = ["self-hosted"], Status = JobStatus.Queued, Scope = "octo/app", Refusal = "fork" };

        await _store.UpsertJobAsync(job, TestContext.Current.CancellationToken);
        var later = await _store.UpsertJobAsync(job with { Refusal = null, Pool = "p" }, TestContext.Current.CancellationToken);
        var undecided = await _store.UpsertJobAsync(new JobRecord { Id = 8, RunId = 2, Repository = "octo/app", Labels = ["self-hosted"], Status = JobStatus.Queued }, TestContext.Current.CancellationToken);
        var decided = await _store.UpsertJobAsync(undecided.Stored with { Pool = "p" }, TestContext.Current.CancellationToken);

        Assert.False(later.Changed);
        Assert.Equal(("fork", null), (later.Stored.Refusal, later.Stored.Pool));
        Assert.Equal("fork", (await _store.ListJobsAsync(JobStatus.Queued, 10, TestContext.Current.CancellationToken)).Single(j => j.Id == 7).Refusal);
        Assert.True(decided.Changed);
        Assert.Equal("p", decided.Stored.Pool);
    }

    [Fact]
    public async Task Drained_pools_are_kept_until_resumed()
    {
        await _store.SetPoolDrainedAsync("Linux-X64", true, TestContext.Current.CancellationToken);
        await _store.SetPoolDrainedAsync("linux-x64", true, TestContext.Current.CancellationToken);
        await _store.SetPoolDrainedAsync("gpu", true, TestContext.Current.CancellationToken);
        await _store.SetPoolDrainedAsync("gpu", false, TestContext.Current.CancellationToken);

        var drained = await _store.ListDrainedPoolsAsync(TestContext.Current.CancellationToken);
        Assert.Single(drained);
        Assert.Contains("LINUX-x64", drained);
    }
}
