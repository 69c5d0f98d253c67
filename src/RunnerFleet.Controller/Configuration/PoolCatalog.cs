using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Configuration;

/// <summary>The validated pools, in configured order, as the core sees them.</summary>
public sealed class PoolCatalog
{
    public PoolCatalog(IOptions<FleetOptions> fleet, IOptions<GitHubOptions> github)
    {
        FleetName = RunnerNames.Sanitize(fleet.Value.Name);
        var gh = github.Value;
        var defaultScope = gh.Organizations.FirstOrDefault() ?? gh.Repositories.FirstOrDefault();
        Pools = [.. fleet.Value.Pools.Select(p => ToDefinition(p, defaultScope))];
    }

    public string FleetName { get; }

    public IReadOnlyList<PoolDefinition> Pools { get; }

    public PoolDefinition? Find(string name) => Pools.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    private static PoolDefinition ToDefinition(PoolOptions p, string? defaultScope)
    {
        var labels = p.Labels.Select(l => l.Trim()).ToList();
        if (!labels.Contains(LabelMatcher.SelfHosted, StringComparer.OrdinalIgnoreCase))
        {
            labels.Insert(0, LabelMatcher.SelfHosted);
        }

        return new PoolDefinition
        {
            Name = p.Name!,
            Labels = labels,
            Provider = p.Provider!.ToLowerInvariant(),
            MinIdle = p.MinIdle,
            MaxRunners = p.MaxRunners,
            Overflow = p.Overflow,
            IdleTimeout = p.IdleTimeout,
            BootTimeout = p.BootTimeout,
            MaxJobDuration = p.MaxJobDuration,
            RunnerGroupId = p.RunnerGroupId,
            Registration = p.Registration is null ? RegistrationMode.Jit : Enum.Parse<RegistrationMode>(p.Registration, ignoreCase: true),
            DefaultScope = p.Scope ?? defaultScope,
            DailyBudget = p.DailyBudget,
            Discovery = string.Equals(p.Discovery, "ScaleSet", StringComparison.OrdinalIgnoreCase) ? JobDiscovery.ScaleSet : JobDiscovery.Jobs,
            ScaleSetName = p.ScaleSet.Name ?? p.Name!,
            ScaleSetRunnerGroup = p.ScaleSet.RunnerGroup,
            AllowForkPullRequests = p.AllowForkPullRequests,
            Docker = new DockerPoolSettings
            {
                Image = p.Docker.Image ?? DockerPoolSettings.DefaultImage,
                Platform = p.Docker.Platform,
                Cpus = p.Docker.Cpus,
                MemoryMb = p.Docker.MemoryMb,
                PidsLimit = p.Docker.PidsLimit,
                Network = p.Docker.Network,
                Command = p.Docker.Command.Count > 0 ? p.Docker.Command : null,
                Endpoints = p.Docker.Endpoints,
            },
            Hetzner = new HetznerPoolSettings
            {
                ServerTypes = p.Hetzner.ServerTypes,
                Locations = p.Hetzner.Locations,
                Image = p.Hetzner.Image ?? "ubuntu-24.04",
                PreparedImage = p.Hetzner.PreparedImage,
                SshKeys = p.Hetzner.SshKeys,
                Firewall = p.Hetzner.Firewall,
                EnableIpv4 = p.Hetzner.EnableIpv4,
                PlacementGroup = p.Hetzner.PlacementGroup,
                RunnerVersion = p.Hetzner.RunnerVersion ?? new HetznerPoolSettings().RunnerVersion,
            },
        };
    }
}
