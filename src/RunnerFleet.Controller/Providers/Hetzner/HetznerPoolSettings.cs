using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary><c>Fleet:Pools:N:Hetzner</c>: how a Hetzner pool's servers are made.</summary>
internal sealed class HetznerPoolSettings : IPaidHourReuse
{
    public const string DefaultImage = "ubuntu-24.04";

    /// <summary>Server types in order of preference, e.g. cax21, cax31.</summary>
    public List<string> ServerTypes { get; set; } = [];

    /// <summary>Locations in order of preference, e.g. fsn1, nbg1, hel1.</summary>
    public List<string> Locations { get; set; } = [];

    /// <summary>An image name (e.g. ubuntu-24.04, resolved for the type's architecture) or a snapshot id.</summary>
    public string Image { get; set; } = DefaultImage;

    /// <summary>True when <see cref="Image"/> is a prepared snapshot with the runner installed: cloud-init installs nothing.</summary>
    public bool PreparedImage { get; set; }

    public List<string> SshKeys { get; set; } = [];

    /// <summary>A firewall by name; default "runnerfleet-{fleet}", made with no inbound rules when missing.</summary>
    public string? Firewall { get; set; }

    /// <summary>
    /// False makes IPv6-only servers, which saves the IPv4 charge; they cannot reach github.com (no AAAA record)
    /// without NAT64, so <see cref="Dns64Servers"/> is then required.
    /// </summary>
    public bool EnableIpv4 { get; set; } = true;

    /// <summary>IPv6 addresses of DNS64 resolvers (of a NAT64 service) an IPv6-only server resolves names with.</summary>
    public List<string> Dns64Servers { get; set; } = [];

    public long? PlacementGroup { get; set; }

    /// <summary>
    /// Opt-in: a server whose runner finished its job is rebuilt for a new runner (a new root disk from
    /// <see cref="Image"/>, a new registration) while its paid hour has <see cref="ReuseMargin"/> left, instead of being
    /// deleted. Never after a job from a fork pull request or whose origin is unknown.
    /// </summary>
    public bool ReuseWithinPaidHour { get; set; }

    /// <summary>What must be left of the paid hour for a rebuild (default 10 minutes); never past minute 50 of it.</summary>
    public TimeSpan ReuseMargin { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Which jobs a rebuilt server may serve: <c>repository</c> (default: only servers of runners registered to one
    /// repository are rebuilt, so only that repository's jobs reach them) or <c>pool</c> (any job of the pool).
    /// </summary>
    public string ReuseFor { get; set; } = ReuseForRepository;

    public const string ReuseForRepository = "repository";
    public const string ReuseForPool = "pool";

    /// <summary>No rebuild starts after this minute of a paid hour.</summary>
    public static readonly TimeSpan LastReuseMinute = TimeSpan.FromMinutes(50);

    /// <summary>A rebuilt server's runner stops waiting for a job when no rebuild could start any more (the margin left, or minute 50).</summary>
    TimeSpan? IPaidHourReuse.WaitsWhileHourLeaves =>
        ReuseWithinPaidHour ? TimeSpan.FromTicks(Math.Max(ReuseMargin.Ticks, (TimeSpan.FromHours(1) - LastReuseMinute).Ticks)) : null;


    internal static IEnumerable<string> Validate(HetznerPoolSettings s, string key)
    {
        if (s.ServerTypes.Count == 0 || s.ServerTypes.Any(string.IsNullOrWhiteSpace))
        {
            yield return $"{key}:ServerTypes must list at least one server type (e.g. cax21).";
        }

        if (s.Locations.Count == 0 || s.Locations.Any(string.IsNullOrWhiteSpace))
        {
            yield return $"{key}:Locations must list at least one location (e.g. fsn1).";
        }

        if (!s.EnableIpv4 && s.Dns64Servers.Count == 0)
        {
            yield return $"{key}:EnableIpv4 is false, but an IPv6-only server cannot reach github.com (it has no AAAA record): set {key}:Dns64Servers to the DNS64 resolvers of a NAT64 service, or leave IPv4 on.";
        }

        if (s.ReuseMargin <= TimeSpan.Zero || s.ReuseMargin >= TimeSpan.FromHours(1))
        {
            yield return $"{key}:ReuseMargin must be more than 0 and less than an hour (was {s.ReuseMargin}).";
        }

        if (!string.Equals(s.ReuseFor, ReuseForRepository, StringComparison.OrdinalIgnoreCase) && !string.Equals(s.ReuseFor, ReuseForPool, StringComparison.OrdinalIgnoreCase))
        {
            yield return $"{key}:ReuseFor must be '{ReuseForRepository}' or '{ReuseForPool}' (was '{s.ReuseFor}').";
        }

        foreach (var server in s.Dns64Servers.Where(d => !System.Net.IPAddress.TryParse(d, out var a) || a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6))
        {
            yield return $"{key}:Dns64Servers must list IPv6 addresses (was '{server}').";
        }
    }

    internal static IReadOnlyDictionary<string, object?> Describe(HetznerPoolSettings s) =>
        new Dictionary<string, object?>
        {
            ["serverTypes"] = s.ServerTypes, ["locations"] = s.Locations, ["image"] = s.Image, ["enableIpv4"] = s.EnableIpv4,
            ["reuseWithinPaidHour"] = s.ReuseWithinPaidHour, ["reuseFor"] = s.ReuseWithinPaidHour ? s.ReuseFor : null,
        };
}
