using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Configuration;

/// <summary>The validated pools, in configured order, as the core sees them: provider and channel settings bound by their plug-ins.</summary>
internal sealed class PoolCatalog
{
    public PoolCatalog(IOptions<FleetOptions> fleet, IOptions<GitHubOptions> github, IConfiguration configuration, IEnumerable<ProviderPlugin> providers, IEnumerable<ChannelPlugin> channels)
    {
        FleetName = RunnerNames.Sanitize(fleet.Value.Name);
        var gh = github.Value;
        var defaultScope = gh.Organizations.FirstOrDefault() ?? gh.Repositories.FirstOrDefault();
        var plugins = _plugins = new PoolPlugins(providers, channels);
        Pools = [.. fleet.Value.Pools.Select((p, i) => ToDefinition(p, configuration.GetSection($"{FleetOptions.Section}:Pools:{i}"), plugins, defaultScope))];
    }

    private readonly PoolPlugins _plugins;

    public string FleetName { get; }

    public IReadOnlyList<PoolDefinition> Pools { get; }

    public PoolDefinition? Find(string name) => Pools.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>A pool's provider and channel settings as their plug-ins show them (for the API and the log).</summary>
    public IReadOnlyDictionary<string, object?> Describe(PoolDefinition pool)
    {
        var shown = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (_plugins.Provider(pool.Provider) is { } provider && pool.ProviderSettings is { } ps)
        {
            foreach (var (k, v) in provider.Settings.Describe(ps))
            {
                shown[k] = v;
            }
        }

        if (_plugins.Channel(pool.Channel) is { } channel && pool.ChannelSettings is { } cs)
        {
            foreach (var (k, v) in channel.Settings.Describe(cs))
            {
                shown[k] = v;
            }
        }

        return shown;
    }

    private static PoolDefinition ToDefinition(PoolOptions p, IConfigurationSection section, PoolPlugins plugins, string? defaultScope)
    {
        var labels = p.Labels.Select(l => l.Trim()).ToList();
        if (!labels.Contains(LabelMatcher.SelfHosted, StringComparer.OrdinalIgnoreCase))
        {
            labels.Insert(0, LabelMatcher.SelfHosted);
        }

        // Validation ran first (ValidateOnStart); a pool naming no known plug-in only appears here when it did not.
        var provider = plugins.Provider(p.Provider);
        var channel = plugins.Channel(p.Discovery);
        return new PoolDefinition
        {
            Name = p.Name!,
            Labels = labels,
            Provider = provider?.Kind ?? p.Provider ?? string.Empty,
            Traits = provider?.Traits ?? ProviderTraits.Free,
            ProviderSettings = provider?.Settings.Bind(section.GetSection(provider.Section)),
            Channel = channel?.Kind ?? p.Discovery ?? string.Empty,
            ChannelSettings = channel?.Settings.Bind(section),
            MinIdle = p.MinIdle,
            MaxRunners = p.MaxRunners,
            Overflow = p.Overflow,
            IdleTimeout = p.IdleTimeout,
            BootTimeout = p.BootTimeout,
            MaxJobDuration = p.MaxJobDuration,
            DefaultScope = p.Scope ?? defaultScope,
            DailyBudget = p.DailyBudget,
            AllowForkPullRequests = p.AllowForkPullRequests,
            Cache = p.Cache.Enabled ? p.Cache : null,
        };
    }
}

/// <summary>The registered providers and channels by name, as pools name them.</summary>
internal sealed class PoolPlugins(IEnumerable<ProviderPlugin> providers, IEnumerable<ChannelPlugin> channels)
{
    public IReadOnlyList<ProviderPlugin> Providers { get; } = [.. providers];

    public IReadOnlyList<ChannelPlugin> Channels { get; } = [.. channels];

    public ProviderPlugin? Provider(string? kind) => Providers.FirstOrDefault(p => string.Equals(p.Kind, kind, StringComparison.OrdinalIgnoreCase));

    /// <summary>The named channel, or the default one when none is named.</summary>
    public ChannelPlugin? Channel(string? kind) => string.IsNullOrWhiteSpace(kind)
        ? Channels.FirstOrDefault(c => c.IsDefault)
        : Channels.FirstOrDefault(c => string.Equals(c.Kind, kind, StringComparison.OrdinalIgnoreCase));
}
