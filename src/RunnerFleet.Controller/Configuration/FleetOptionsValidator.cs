using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Configuration;

/// <summary>Checks <c>Fleet</c> at start; every message names the configuration key at fault.</summary>
public sealed class FleetOptionsValidator : IValidateOptions<FleetOptions>
{
    public static readonly string[] KnownProviders = ["docker", "hetzner", "inprocess"];

    private readonly Providers.Hetzner.HetznerOptions? _hetzner;

    public FleetOptionsValidator()
    {
    }

    public FleetOptionsValidator(IOptions<Providers.Hetzner.HetznerOptions> hetzner) => _hetzner = hetzner.Value;

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

            if (string.IsNullOrWhiteSpace(p.Provider) || !KnownProviders.Contains(p.Provider, StringComparer.OrdinalIgnoreCase))
            {
                Fail($"{key}:Provider '{p.Provider}' is not known; use one of: {string.Join(", ", KnownProviders)}.");
            }

            if (p.MaxRunners < 1)
            {
                Fail($"{key}:MaxRunners must be at least 1 (was {p.MaxRunners}).");
            }

            if (p.Discovery is { } discovery && !string.Equals(discovery, "Jobs", StringComparison.OrdinalIgnoreCase) && !string.Equals(discovery, "ScaleSet", StringComparison.OrdinalIgnoreCase))
            {
                Fail($"{key}:Discovery '{discovery}' is not known; use Jobs or ScaleSet.");
            }

            if (p.DailyBudget is <= 0)
            {
                Fail($"{key}:DailyBudget must be a positive amount of euros when set (was {p.DailyBudget}).");
            }

            if (p.MinIdle < 0 || p.MinIdle > p.MaxRunners)
            {
                Fail($"{key}:MinIdle must be between 0 and MaxRunners {p.MaxRunners} (was {p.MinIdle}).");
            }

            if (p.Registration is not null && !Enum.TryParse<RegistrationMode>(p.Registration, ignoreCase: true, out _))
            {
                Fail($"{key}:Registration '{p.Registration}' is not known; use Jit or RegistrationToken.");
            }

            foreach (var (value, field) in new[] { (p.IdleTimeout, "IdleTimeout"), (p.BootTimeout, "BootTimeout"), (p.MaxJobDuration, "MaxJobDuration") })
            {
                if (value <= TimeSpan.Zero)
                {
                    Fail($"{key}:{field} must be positive (was {value}).");
                }
            }

            if (p.Docker.Cpus <= 0 || p.Docker.MemoryMb < 64 || p.Docker.PidsLimit < 16)
            {
                Fail($"{key}:Docker limits must be positive: Cpus > 0, MemoryMb >= 64, PidsLimit >= 16.");
            }

            if (string.Equals(p.Provider, "hetzner", StringComparison.OrdinalIgnoreCase))
            {
                if (p.Hetzner.ServerTypes.Count == 0 || p.Hetzner.ServerTypes.Any(string.IsNullOrWhiteSpace))
                {
                    Fail($"{key}:Hetzner:ServerTypes must list at least one server type (e.g. cax21).");
                }

                if (p.Hetzner.Locations.Count == 0 || p.Hetzner.Locations.Any(string.IsNullOrWhiteSpace))
                {
                    Fail($"{key}:Hetzner:Locations must list at least one location (e.g. fsn1).");
                }

                if (_hetzner is not null && string.IsNullOrWhiteSpace(_hetzner.Token))
                {
                    Fail($"Hetzner:Token is missing: pool {p.Name} ({key}) uses the hetzner provider.");
                }
            }

            if (p.Docker.Platform is { } platform && platform.Split('/') is not [{ Length: > 0 }, { Length: > 0 }, ..])
            {
                Fail($"{key}:Docker:Platform must look like linux/arm64 (was '{platform}').");
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

        foreach (var (value, field) in new[] { (options.PlanInterval, "PlanInterval"), (options.ReapInterval, "ReapInterval"), (options.ReconcileInterval, "ReconcileInterval") })
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

        if (options.ProvisionParallelism < 1)
        {
            Fail($"Fleet:ProvisionParallelism must be at least 1 (was {options.ProvisionParallelism}).");
        }

        return errors is { Count: > 0 } ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
