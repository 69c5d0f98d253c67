namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// Pools that cannot provision right now (provider out of capacity, quota reached, platform unsupported),
/// until when and why. The planner treats them as full, so their job demand goes to their overflow pool.
/// </summary>
internal sealed class PoolAvailability
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (DateTimeOffset Until, string Reason)> _pools = new(StringComparer.OrdinalIgnoreCase);

    public void MarkUnavailable(string pool, DateTimeOffset until, string reason)
    {
        lock (_gate)
        {
            _pools[pool] = (until, reason);
        }
    }

    public void MarkAvailable(string pool)
    {
        lock (_gate)
        {
            _pools.Remove(pool);
        }
    }

    public IReadOnlySet<string> Unavailable(DateTimeOffset now)
    {
        lock (_gate)
        {
            return _pools.Where(kv => kv.Value.Until > now).Select(kv => kv.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        }
    }

    public string? ReasonOf(string pool, DateTimeOffset now)
    {
        lock (_gate)
        {
            return _pools.TryGetValue(pool, out var v) && v.Until > now ? v.Reason : null;
        }
    }
}
