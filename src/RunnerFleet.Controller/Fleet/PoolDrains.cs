namespace RunnerFleet.Controller.Fleet;

/// <summary>Pools an operator drained: they make no new runners; their busy runners finish.</summary>
public sealed class PoolDrains
{
    private readonly Lock _gate = new();
    private readonly HashSet<string> _drained = new(StringComparer.OrdinalIgnoreCase);

    public bool Drain(string pool)
    {
        lock (_gate)
        {
            return _drained.Add(pool);
        }
    }

    public bool Resume(string pool)
    {
        lock (_gate)
        {
            return _drained.Remove(pool);
        }
    }

    public IReadOnlySet<string> Drained()
    {
        lock (_gate)
        {
            return _drained.ToHashSet(StringComparer.OrdinalIgnoreCase);
        }
    }
}
