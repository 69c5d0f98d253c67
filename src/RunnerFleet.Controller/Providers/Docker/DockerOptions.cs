namespace RunnerFleet.Controller.Providers.Docker;

/// <summary>The <c>Docker</c> section: the engines Docker pools run on.</summary>
internal sealed class DockerOptions
{
    public const string Section = "Docker";

    public List<DockerEndpointOptions> Endpoints { get; set; } = [];

    /// <summary>Engine API version to speak. 1.41 is Docker 20.10 (Debian 12); newer engines accept it.</summary>
    public string ApiVersion { get; set; } = "1.41";

    /// <summary>
    /// Runner networks the controller creates get inter-container traffic off and, on a local engine with
    /// the controller as root, an iptables chain that rejects traffic from runners to this host.
    /// </summary>
    public bool IsolateFromHost { get; set; } = true;

    /// <summary>Host TCP ports runners may still reach through an isolated network (e.g. a GitHub Enterprise Server on the host).</summary>
    public List<int> AllowedHostPorts { get; set; } = [];

    /// <summary>
    /// Internal networks (CIDR) runners may still reach through the host, e.g. a GitHub Enterprise Server at
    /// 10.1.2.3/32. Everything else link-local, private or carrier-grade NAT is refused to them.
    /// </summary>
    public List<string> AllowedNetworks { get; set; } = [];

    public IReadOnlyList<DockerEndpointOptions> EffectiveEndpoints => Endpoints.Count > 0
        ? Endpoints
        : [new DockerEndpointOptions { Name = "local", Uri = new Uri("unix:///var/run/docker.sock"), MaxRunners = 20 }];
}

/// <summary><c>Docker:Endpoints:N</c>: one engine and how many runners it may hold.</summary>
internal sealed class DockerEndpointOptions
{
    public string? Name { get; set; }

    /// <summary>unix:///var/run/docker.sock, or tcp://host:2376 with mutual TLS (<see cref="CertPath"/>).</summary>
    public Uri? Uri { get; set; }

    /// <summary>
    /// For a <c>tcp://</c> engine: a folder with <c>ca.pem</c> (the CA the engine's certificate must chain to),
    /// <c>cert.pem</c> and <c>key.pem</c> (this controller's client certificate), as Docker's own
    /// <c>DOCKER_CERT_PATH</c> holds them. The engine runs with <c>--tlsverify</c>.
    /// </summary>
    public string? CertPath { get; set; }

    /// <summary>Allow a <c>tcp://</c> engine without TLS (anyone on the path can run containers on it). Off by default; warned about at start.</summary>
    public bool AllowPlainTcp { get; set; }

    /// <summary>Whether the engine is reached over TCP (as opposed to a local socket).</summary>
    public bool IsTcp => Uri?.Scheme is "tcp" or "http" or "https";

    public int MaxRunners { get; set; } = 20;
}
