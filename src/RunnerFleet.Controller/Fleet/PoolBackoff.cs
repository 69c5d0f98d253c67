namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// After a pool fails to provision, it makes no new runners for a while: 5 s, doubling to 5 minutes,
/// back to nothing on the first success. A broken image or a provider outage then costs a few failed
/// records, not one per plan tick.
/// </summary>
internal sealed class PoolBackoff
{
    public static readonly TimeSpan First = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan Max = TimeSpan.FromMinutes(5);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, (int Failures, DateTimeOffset Until)> _pools = new(StringComparer.OrdinalIgnoreCase);

    public bool IsWaiting(string pool, DateTimeOffset now)
    {
        lock (_gate)
        {
            return _pools.TryGetValue(pool, out var b) && b.Until > now;
        }
    }

    /// <summary>Records a failure and returns how long the pool now waits (at most <paramref name="max"/>, default <see cref="Max"/>).</summary>
    public TimeSpan Failed(string pool, DateTimeOffset now, TimeSpan? max = null)
    {
        lock (_gate)
        {
            var failures = _pools.TryGetValue(pool, out var b) ? b.Failures + 1 : 1;
            var wait = TimeSpan.FromTicks(Math.Min((max ?? Max).Ticks, First.Ticks * (1L << Math.Min(failures - 1, 20))));
            _pools[pool] = (failures, now + wait);
            return wait;
        }
    }

    public void Succeeded(string pool)
    {
        lock (_gate)
        {
            _pools.Remove(pool);
        }
    }
}
