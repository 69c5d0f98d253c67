using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Configuration;

/// <summary>Checks <c>Fleet</c> at start; every message names the configuration key at fault.</summary>
internal sealed class FleetOptionsValidator : IValidateOptions<FleetOptions>
{
    private readonly IConfiguration? _configuration;
    private readonly PoolPlugins _plugins;

    /// <param name="configuration">The configuration the options came from: each plug-in binds its own keys of a pool from it.</param>
    public FleetOptionsValidator(IEnumerable<ProviderPlugin> providers, IEnumerable<ChannelPlugin> channels, IConfiguration? configuration = null)
    {
        _plugins = new PoolPlugins(providers, channels);
        _configuration = configuration;
    }

    public ValidateOptionsResult Validate(string? name, FleetOptions options)
    {
        List<string>? errors = null;
        void Fail(string message) => (errors ??= []).Add(message);

        if (string.IsNullOrWhiteSpace(options.Name) || RunnerNames.Sanitize(options.Name).Length is 0 or > 20)
        {
            Fail($"Fleet:Name must have 1 to 20 letters, digits or dashes (was '{options.Name}').");
        }

        if (options.Pools.Count == 0)
        {
            Fail("Fleet:Pools is empty: configure at least one pool (Fleet:Pools:0:Name, Labels, Provider).");
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Pools.Count; i++)
        {
            var p = options.Pools[i];
            var key = $"Fleet:Pools:{i}";
            if (string.IsNullOrWhiteSpace(p.Name) || RunnerNames.Sanitize(p.Name) != p.Name.ToLowerInvariant())
            {
                Fail($"{key}:Name must be letters, digits and dashes (was '{p.Name}').");
            }
            else if (!names.Add(p.Name))
            {
                Fail($"{key}:Name '{p.Name}' is used by another pool.");
            }

            if (p.Labels.Count == 0 || p.Labels.Any(string.IsNullOrWhiteSpace))
            {
                Fail($"{key}:Labels must list at least one non-empty label.");
            }

            // Names are checked against what is registered (Add<Kind>Provider, Add<Kind>Channel), never a list here.
            var section = _configuration?.GetSection($"{FleetOptions.Section}:Pools:{i}");
            if (_plugins.Provider(p.Provider) is not { } provider)
            {
                Fail($"{key}:Provider '{p.Provider}' is not known; use one of: {string.Join(", ", _plugins.Providers.Select(x => x.Kind))}.");
            }
            else if (section is not null)
            {
                Check(provider.Settings, section.GetSection(provider.Section), $"{key}:{provider.Section}", Fail);
            }

            if (_plugins.Channel(p.Discovery) is not { } channel)
            {
                Fail($"{key}:Discovery '{p.Discovery}' is not known; use one of: {string.Join(", ", _plugins.Channels.Select(x => x.Kind))}.");
            }
            else if (section is not null)
            {
                Check(channel.Settings, section, key, Fail);
            }

            if (p.MaxRunners < 1)
            {
                Fail($"{key}:MaxRunners must be at least 1 (was {p.MaxRunners}).");
            }

            if (p.DailyBudget is <= 0)
            {
                Fail($"{key}:DailyBudget must be a positive amount of euros when set (was {p.DailyBudget}).");
            }

            if (p.MinIdle < 0 || p.MinIdle > p.MaxRunners)
            {
                Fail($"{key}:MinIdle must be between 0 and MaxRunners {p.MaxRunners} (was {p.MinIdle}).");
            }

            foreach (var (value, field) in new[] { (p.IdleTimeout, "IdleTimeout"), (p.BootTimeout, "BootTimeout"), (p.MaxJobDuration, "MaxJobDuration") })
            {
                if (value <= TimeSpan.Zero)
                {
                    Fail($"{key}:{field} must be positive (was {value}).");
                }
            }

            if (p.Cache.Enabled)
            {
                foreach (var problem in CacheSettingsValidator.Validate(p.Cache, $"{key}:Cache"))
                {
                    Fail(problem);
                }

                if (!Environment.IsPrivilegedProcess)
                {
                    Fail($"{key}:Cache needs the controller to run as root: it reads overlayfs's trusted.* attributes and moves the runner user's files (README, \"Warm caches\").");
                }

                if (_plugins.Provider(p.Provider) is { Traits.MountsCaches: false } noCache)
                {
                    Fail($"{key}:Cache is set, but provider '{noCache.Kind}' cannot mount warm caches (only docker does; README, \"Warm caches\").");
                }
            }

        }

        for (var i = 0; i < options.Pools.Count; i++)
        {
            var overflow = options.Pools[i].Overflow;
            if (overflow is null)
            {
                continue;
            }

            if (!names.Contains(overflow))
            {
                Fail($"Fleet:Pools:{i}:Overflow names '{overflow}', which is no pool.");
                continue;
            }

            // Follow the chain; coming back to the start is a cycle.
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { options.Pools[i].Name ?? string.Empty };
            var next = overflow;
            while (next is not null)
            {
                if (!seen.Add(next))
                {
                    Fail($"Fleet:Pools:{i}:Overflow makes a cycle: {string.Join(" -> ", seen)} -> {next}.");
                    break;
                }

                next = options.Pools.FirstOrDefault(p => string.Equals(p.Name, next, StringComparison.OrdinalIgnoreCase))?.Overflow;
            }
        }

        foreach (var (value, field) in new[] { (options.PlanInterval, "PlanInterval"), (options.ReapInterval, "ReapInterval"), (options.ReconcileInterval, "ReconcileInterval"), (options.Retention, "Retention") })
        {
            if (value <= TimeSpan.Zero)
            {
                Fail($"Fleet:{field} must be positive (was {value}).");
            }
        }

        if (options.DailyBudget is <= 0)
        {
            Fail($"Fleet:DailyBudget must be a positive amount of euros when set (was {options.DailyBudget}).");
        }

        if (options.MaxRunners is < 1)
        {
            Fail($"Fleet:MaxRunners must be at least 1 when set (was {options.MaxRunners}).");
        }

        if (options.Pools.Any(p => p.Cache.Enabled) && (string.IsNullOrWhiteSpace(options.CacheDirectory) || !options.CacheDirectory.StartsWith('/') || options.CacheDirectory.IndexOfAny([',', ':']) >= 0))
        {
            // The folder goes into overlayfs's mount options, where ',' and ':' separate values.
            Fail($"Fleet:CacheDirectory must be an absolute path without ',' or ':' (was '{options.CacheDirectory}').");
        }

        if (options.ProvisionParallelism < 1)
        {
            Fail($"Fleet:ProvisionParallelism must be at least 1 (was {options.ProvisionParallelism}).");
        }

        return errors is { Count: > 0 } ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }

    private static void Check(PoolSettingsBinder binder, IConfigurationSection section, string key, Action<string> fail)
    {
        object settings;
        try
        {
            settings = binder.Bind(section);
        }
        catch (InvalidOperationException e)
        {
            // A value of the wrong type (a word where a number goes): the binder's message names the key.
            fail($"{key}: {e.Message}");
            return;
        }

        foreach (var problem in binder.Validate(settings, key))
        {
            fail(problem);
        }
    }
}
