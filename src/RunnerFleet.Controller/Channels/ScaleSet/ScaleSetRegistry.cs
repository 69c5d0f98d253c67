using System.Collections.Concurrent;

namespace RunnerFleet.Controller.Channels.ScaleSet;

/// <summary>The scale set each scale-set pool's listener found or made, for the channel's JIT configs (the listener writes, the channel reads).</summary>
internal sealed class ScaleSetRegistry
{
    private readonly ConcurrentDictionary<string, (string Scope, long Id)> _sets = new(StringComparer.OrdinalIgnoreCase);

    public void Set(string pool, string scope, long scaleSetId) => _sets[pool] = (scope, scaleSetId);

    public (string Scope, long Id)? Find(string pool) => _sets.TryGetValue(pool, out var s) ? s : null;
}
