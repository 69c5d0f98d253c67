using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Store;

/// <summary>
/// The live runner records as the planner reads them every tick, kept in memory: a tick reads only the records
/// written since the last read (less an overlap, for writes whose transaction began before that read and committed
/// after it, or another controller's clock running behind), and the whole set again every <see cref="FullEvery"/>.
/// At 10,000 live runners a full read costs tens of milliseconds a tick; the changes of a tick are a few rows.
/// </summary>
internal sealed class ActiveRunnerView(IFleetStore store, TimeProvider time)
{
    /// <summary>How far back each read of changes reaches before the previous read.</summary>
    public static readonly TimeSpan Overlap = TimeSpan.FromSeconds(30);

    /// <summary>How often the whole live set is read again, whatever the changes said.</summary>
    public static readonly TimeSpan FullEvery = TimeSpan.FromMinutes(1);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, RunnerRecord> _active = new(StringComparer.Ordinal);
    private DateTimeOffset? _readAt;
    private DateTimeOffset _fullAt;

    public async Task<IReadOnlyList<RunnerRecord>> ListAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // The time is taken before the read: whatever is written during it is read again next time.
            var now = time.GetUtcNow();
            if (_readAt is not { } last || now - _fullAt >= FullEvery || now < last)
            {
                var all = await store.ListActiveRunnersAsync(ct).ConfigureAwait(false);
                _active.Clear();
                foreach (var r in all)
                {
                    _active[r.Id] = r;
                }

                _fullAt = now;
            }
            else
            {
                foreach (var r in await store.ListRunnersChangedSinceAsync(last - Overlap, ct).ConfigureAwait(false))
                {
                    if (RunnerStateMachine.IsFinal(r.State))
                    {
                        _active.Remove(r.Id);
                    }
                    else
                    {
                        _active[r.Id] = r;
                    }
                }
            }

            _readAt = now;
            // The store's order (oldest request first), which the planner's choices follow.
            return [.. _active.Values.OrderBy(r => r.RequestedAt).ThenBy(r => r.Id, StringComparer.Ordinal)];
        }
        finally
        {
            _gate.Release();
        }
    }
}
