namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary><c>Fleet:Pools:N:Hetzner</c>: how a Hetzner pool's servers are made.</summary>
internal sealed class HetznerPoolSettings
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

        foreach (var server in s.Dns64Servers.Where(d => !System.Net.IPAddress.TryParse(d, out var a) || a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6))
        {
            yield return $"{key}:Dns64Servers must list IPv6 addresses (was '{server}').";
        }
    }

    internal static IReadOnlyDictionary<string, object?> Describe(HetznerPoolSettings s) =>
        new Dictionary<string, object?> { ["serverTypes"] = s.ServerTypes, ["locations"] = s.Locations, ["image"] = s.Image, ["enableIpv4"] = s.EnableIpv4 };
}
