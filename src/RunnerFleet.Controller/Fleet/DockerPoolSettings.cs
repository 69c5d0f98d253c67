namespace RunnerFleet.Controller.Fleet;

/// <summary>How a Docker pool's containers are made. Hardened defaults; see README before loosening.</summary>
public sealed record DockerPoolSettings
{
    public const string DefaultImage = "ghcr.io/actions/actions-runner:latest";

    public string Image { get; init; } = DefaultImage;

    /// <summary>e.g. "linux/arm64" to run under QEMU user-mode emulation on an x86 engine.</summary>
    public string? Platform { get; init; }

    public double Cpus { get; init; } = 2;

    public long MemoryMb { get; init; } = 4096;

    public long PidsLimit { get; init; } = 4096;

    /// <summary>The bridge network runners join; created when missing. Default: "runnerfleet-{fleet}".</summary>
    public string? Network { get; init; }

    /// <summary>The runner command. Default: <c>/home/runner/run.sh</c> (after <c>config.sh</c> in token mode).</summary>
    public IReadOnlyList<string>? Command { get; init; }

    /// <summary>Engines this pool may use, by name; empty means any.</summary>
    public IReadOnlyList<string> Endpoints { get; init; } = [];
}
