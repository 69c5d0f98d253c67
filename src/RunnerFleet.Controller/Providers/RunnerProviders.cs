using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers;

/// <summary>
/// The providers the configured pools use, by kind. Each registered itself (<see cref="ProviderServiceCollectionExtensions.AddRunnerProvider{TProvider, TSettings}"/>);
/// only those some pool names are ever made, so an unused provider needs no engine or token.
/// </summary>
internal sealed class RunnerProviders(IServiceProvider services, PoolCatalog pools)
{
    private readonly string[] _used = [.. pools.Pools.Select(p => p.Provider).Distinct(StringComparer.OrdinalIgnoreCase)];

    /// <summary>The providers of every configured pool.</summary>
    public IReadOnlyCollection<IRunnerProvider> All => [.. _used.Select(Get)];

    public IRunnerProvider Get(string kind) =>
        services.GetKeyedService<IRunnerProvider>(kind.ToLowerInvariant()) ?? throw new InvalidOperationException($"No runner provider '{kind}' is registered.");

    public bool TryGet(string kind, out IRunnerProvider provider)
    {
        provider = services.GetKeyedService<IRunnerProvider>(kind.ToLowerInvariant())!;
        return provider is not null;
    }
}
