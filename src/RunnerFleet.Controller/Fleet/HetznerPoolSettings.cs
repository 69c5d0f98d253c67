namespace RunnerFleet.Controller.Fleet;

/// <summary>How a Hetzner pool's servers are made.</summary>
public sealed record HetznerPoolSettings
{
    /// <summary>Server types in order of preference, e.g. cax21, cax31.</summary>
    public IReadOnlyList<string> ServerTypes { get; init; } = [];

    /// <summary>Locations in order of preference, e.g. fsn1, nbg1, hel1.</summary>
    public IReadOnlyList<string> Locations { get; init; } = [];

    /// <summary>An image name (e.g. ubuntu-24.04, resolved for the type's architecture) or a snapshot id.</summary>
    public string Image { get; init; } = "ubuntu-24.04";

    /// <summary>True when <see cref="Image"/> is a prepared snapshot with the runner installed: cloud-init installs nothing.</summary>
    public bool PreparedImage { get; init; }

    public IReadOnlyList<string> SshKeys { get; init; } = [];

    /// <summary>A firewall by name; default "runnerfleet-{fleet}", made with no inbound rules when missing.</summary>
    public string? Firewall { get; init; }

    /// <summary>False makes IPv6-only servers, which saves the IPv4 charge.</summary>
    public bool EnableIpv4 { get; init; } = true;

    public long? PlacementGroup { get; init; }

    /// <summary>actions/runner release installed by cloud-init when the image is not prepared.</summary>
    public string RunnerVersion { get; init; } = "2.329.0";
}
