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

    /// <summary>False makes IPv6-only servers, which saves the IPv4 charge.</summary>
    public bool EnableIpv4 { get; set; } = true;

    public long? PlacementGroup { get; set; }

    /// <summary>actions/runner release installed by cloud-init when the image is not prepared.</summary>
    public string RunnerVersion { get; set; } = "2.329.0";

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
    }

    internal static IReadOnlyDictionary<string, object?> Describe(HetznerPoolSettings s) =>
        new Dictionary<string, object?> { ["serverTypes"] = s.ServerTypes, ["locations"] = s.Locations, ["image"] = s.Image, ["enableIpv4"] = s.EnableIpv4 };
}
