namespace RunnerFleet.Controller.Providers.Docker;

/// <summary><c>Fleet:Pools:N:Docker</c>: how a Docker pool's containers are made. Hardened defaults; see README before loosening.</summary>
internal sealed class DockerPoolSettings
{
    public const string DefaultImage = "ghcr.io/actions/actions-runner:latest";

    public string Image { get; set; } = DefaultImage;

    /// <summary>e.g. "linux/arm64" to run under QEMU user-mode emulation on an x86 engine.</summary>
    public string? Platform { get; set; }

    public double Cpus { get; set; } = 2;

    public long MemoryMb { get; set; } = 4096;

    public long PidsLimit { get; set; } = 4096;

    /// <summary>The bridge network runners join; created when missing. Default: "runnerfleet-{fleet}".</summary>
    public string? Network { get; set; }

    /// <summary>The runner command. Default (empty): <c>/home/runner/run.sh</c> (after <c>config.sh</c> in token mode).</summary>
    public List<string> Command { get; set; } = [];

    /// <summary>Engines this pool may use, by name; empty means any.</summary>
    public List<string> Endpoints { get; set; } = [];

    /// <summary>
    /// Refuse to make runners unless the runner network's firewall is in force (cut off from the host and from
    /// internal networks). Default: on for pools that allow fork pull requests, off otherwise.
    /// </summary>
    public bool? RequireFirewall { get; set; }

    internal static IEnumerable<string> Validate(DockerPoolSettings s, string key)
    {
        if (s.Cpus <= 0 || s.MemoryMb < 64 || s.PidsLimit < 16)
        {
            yield return $"{key} limits must be positive: Cpus > 0, MemoryMb >= 64, PidsLimit >= 16.";
        }

        if (string.IsNullOrWhiteSpace(s.Image))
        {
            yield return $"{key}:Image must name an image.";
        }

        if (s.Platform is { } platform && platform.Split('/') is not [{ Length: > 0 }, { Length: > 0 }, ..])
        {
            yield return $"{key}:Platform must look like linux/arm64 (was '{platform}').";
        }
    }

    internal static IReadOnlyDictionary<string, object?> Describe(DockerPoolSettings s) =>
        new Dictionary<string, object?> { ["image"] = s.Image, ["platform"] = s.Platform, ["cpus"] = s.Cpus, ["memoryMb"] = s.MemoryMb };
}
