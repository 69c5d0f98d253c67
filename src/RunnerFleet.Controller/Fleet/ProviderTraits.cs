namespace RunnerFleet.Controller.Fleet;

/// <summary>What a kind of provider is like, as far as the core must know; each provider states its own.</summary>
internal sealed record ProviderTraits
{
    /// <summary>A provider whose runners cost nothing per hour (an engine or a machine of your own).</summary>
    public static readonly ProviderTraits Free = new();

    /// <summary>Its resources are billed per started hour: spending caps apply, and cost is recorded.</summary>
    public bool BillsPerHour { get; init; }

    /// <summary>Its machines may install actions/runner themselves: registration passes the current release (<see cref="RunnerPackage"/>).</summary>
    public bool InstallsRunner { get; init; }

    /// <summary>It mounts warm caches (<see cref="RunnerLaunch.Caches"/>) into its runners: pools of other providers may not configure one.</summary>
    public bool MountsCaches { get; init; }
}
