namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>
/// What every wait for Hetzner actions shares (one per controller): the actions being waited for and their last
/// seen state. A wait whose poll is due reads the shared state when another wait's request refreshed it recently
/// enough; otherwise its request fetches every watched action at once (up to 25 ids each, as hcloud-go batches), so
/// concurrent creates share one request a round instead of one each; a wait due while such a request is on its way
/// joins it. Hetzner allows 3,600 requests an hour.
/// </summary>
internal sealed class HetznerActionWatch
{
    private readonly Lock _gate = new();
    private readonly Dictionary<long, int> _waiters = [];
    private readonly Dictionary<long, (HAction Action, DateTimeOffset At)> _seen = [];
    private Task<IReadOnlyList<HAction>>? _inFlight;
    private HashSet<long> _inFlightIds = [];
    private long _generation;

    // Cancels the shared requests once nobody waits any more (a request is not one waiter's to cancel).
    private CancellationTokenSource _stop = new();

    /// <summary>
    /// The actions' states: from what was seen since <paramref name="since"/>, else from the request on its way if it
    /// asks for them, else from a new request for every watched action (<paramref name="fetch"/>; not cancelled by
    /// one waiter, since others may share it, but once no wait is left).
    /// </summary>
    public async Task<IReadOnlyList<HAction>> ReadAsync(IReadOnlyCollection<long> ids, DateTimeOffset since, DateTimeOffset now,
        Func<IReadOnlyList<long>, CancellationToken, Task<IReadOnlyList<HAction>>> fetch, CancellationToken ct)
    {
        Task<IReadOnlyList<HAction>> flight;
        lock (_gate)
        {
            if (Fresh(ids, since) is { } fresh)
            {
                return fresh;
            }

            if (_inFlight is { } joined && ids.All(_inFlightIds.Contains))
            {
                flight = joined;
            }
            else
            {
                // A request of its own (the one on its way lacks some of these ids); the newest is the one to join.
                _inFlightIds = [.. _waiters.Keys, .. ids];
                flight = _inFlight = FetchAsync([.. _inFlightIds], now, fetch, ++_generation, _stop.Token);
            }
        }

        var all = await flight.WaitAsync(ct).ConfigureAwait(false);
        var mine = ids.ToHashSet();
        return [.. all.Where(a => mine.Contains(a.Id))];
    }

    private async Task<IReadOnlyList<HAction>> FetchAsync(IReadOnlyList<long> ids, DateTimeOffset asked, Func<IReadOnlyList<long>, CancellationToken, Task<IReadOnlyList<HAction>>> fetch,
        long generation, CancellationToken stop)
    {
        // Run the request outside the lock (the caller holds it): yield first.
        await Task.Yield();
        try
        {
            var all = await fetch(ids, stop).ConfigureAwait(false);
            Seen(all, asked);
            return all;
        }
        finally
        {
            lock (_gate)
            {
                // Only this request's own slot: a newer one may have taken it meanwhile.
                if (_generation == generation)
                {
                    _inFlight = null;
                    _inFlightIds = [];
                }
            }
        }
    }

    public void Watch(IEnumerable<long> ids)
    {
        lock (_gate)
        {
            foreach (var id in ids)
            {
                _waiters[id] = _waiters.GetValueOrDefault(id) + 1;
            }
        }
    }

    public void Unwatch(IEnumerable<long> ids)
    {
        lock (_gate)
        {
            foreach (var id in ids)
            {
                if (_waiters.TryGetValue(id, out var n) && n > 1)
                {
                    _waiters[id] = n - 1;
                }
                else
                {
                    _waiters.Remove(id);
                    _seen.Remove(id);
                }
            }

            if (_waiters.Count == 0)
            {
                _stop.Cancel();
                _stop.Dispose();
                _stop = new CancellationTokenSource();
                _inFlight = null;
                _inFlightIds = [];
                _generation++;
            }
        }
    }

    /// <summary>The actions' states if every one was seen at or after <paramref name="since"/>; else null.</summary>
    public IReadOnlyList<HAction>? Fresh(IReadOnlyCollection<long> ids, DateTimeOffset since)
    {
        lock (_gate)
        {
            var fresh = new List<HAction>(ids.Count);
            foreach (var id in ids)
            {
                if (!_seen.TryGetValue(id, out var s) || s.At < since)
                {
                    return null;
                }

                fresh.Add(s.Action);
            }

            return fresh;
        }
    }

    public void Seen(IEnumerable<HAction> actions, DateTimeOffset at)
    {
        lock (_gate)
        {
            foreach (var a in actions)
            {
                // An older request answering last does not overwrite what a newer one saw.
                if (_waiters.ContainsKey(a.Id) && (!_seen.TryGetValue(a.Id, out var seen) || seen.At <= at))
                {
                    _seen[a.Id] = (a, at);
                }
            }
        }
    }
}
