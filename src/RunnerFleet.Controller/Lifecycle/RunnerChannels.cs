using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>The registered channels; each pool's by its <see cref="PoolDefinition.Channel"/>.</summary>
internal sealed class RunnerChannels(IServiceProvider services, IEnumerable<ChannelPlugin> plugins, PoolCatalog pools)
{
    private readonly IRunnerChannel[] _all = [.. plugins.Select(p => services.GetRequiredKeyedService<IRunnerChannel>(p.Kind.ToLowerInvariant()))];

    public IReadOnlyList<IRunnerChannel> All => _all;

    /// <summary>The channel of a configured pool.</summary>
    public IRunnerChannel For(PoolDefinition pool) =>
        _all.FirstOrDefault(c => string.Equals(c.Kind, pool.Channel, StringComparison.OrdinalIgnoreCase))
        ?? throw new InvalidOperationException($"No channel '{pool.Channel}' is registered (pool {pool.Name}).");

    /// <summary>A pool's definition and channel by the pool's name; null for a pool no longer configured.</summary>
    public (PoolDefinition Pool, IRunnerChannel Channel)? ForPool(string name) => pools.Find(name) is { } pool ? (pool, For(pool)) : null;
}
