using Microsoft.Extensions.Time.Testing;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Tests.Store;

/// <summary>The planner's in-memory view of the live runners follows the store, changes only, with a full read each minute.</summary>
public sealed class ActiveRunnerViewTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"rf-view-{Guid.NewGuid():N}.db");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
    private SqliteFleetStore _store = null!;

    public async ValueTask InitializeAsync()
    {
        _store = new SqliteFleetStore($"Data Source={_path}", _time);
        await _store.InitializeAsync(TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(f);
        }

        return ValueTask.CompletedTask;
    }

    private RunnerRecord Runner(string name, TimeProvider at) => new()
    {
        Id = Guid.NewGuid().ToString("N"), Name = name, Pool = "p", Provider = "docker", Scope = "octo/app", State = RunnerState.Requested, RequestedAt = at.GetUtcNow(),
    };

    [Fact]
    public async Task New_changed_and_ended_runners_show_in_the_next_read_and_a_write_the_changes_miss_shows_in_the_next_full_read()
    {
        var ct = TestContext.Current.CancellationToken;
        var view = new ActiveRunnerView(_store, _time);
        var first = Runner("f-p-1", _time);
        await _store.InsertRunnerAsync(first, ct);
        Assert.Equal(["f-p-1"], (await view.ListAsync(ct)).Select(r => r.Name));

        _time.Advance(TimeSpan.FromSeconds(2));
        var second = Runner("f-p-2", _time);
        await _store.InsertRunnerAsync(second, ct);
        Assert.True(await _store.TransitionAsync(first with { State = RunnerState.Provisioning }, RunnerState.Requested, "test", ct));
        var read = await view.ListAsync(ct);
        Assert.Equal([("f-p-1", RunnerState.Provisioning), ("f-p-2", RunnerState.Requested)], read.Select(r => (r.Name, r.State)));

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(await _store.TransitionAsync(second with { State = RunnerState.Failed }, RunnerState.Requested, "test", ct));
        Assert.Equal(["f-p-1"], (await view.ListAsync(ct)).Select(r => r.Name));

        // Another controller whose clock runs two minutes behind writes a runner: its updated_at is older than any
        // read of changes reaches back, so only the next full read (within FullEvery) finds it.
        var behind = new FakeTimeProvider(_time.GetUtcNow() - TimeSpan.FromMinutes(2));
        await new SqliteFleetStore($"Data Source={_path}", behind).InsertRunnerAsync(Runner("f-p-3", behind), ct);

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(["f-p-1"], (await view.ListAsync(ct)).Select(r => r.Name));
        _time.Advance(ActiveRunnerView.FullEvery);
        Assert.Equal(["f-p-3", "f-p-1"], (await view.ListAsync(ct)).Select(r => r.Name));
    }
}
