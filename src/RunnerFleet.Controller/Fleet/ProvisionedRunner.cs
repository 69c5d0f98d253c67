namespace RunnerFleet.Controller.Fleet;

/// <summary>A provider resource that holds (or held) a runner, read back from its labels.</summary>
internal sealed record ProvisionedRunner
{
    public required string ResourceId { get; init; }
    public required string RunnerName { get; init; }
    public string? Pool { get; init; }
    public string? Endpoint { get; init; }
    public ProvisionedStatus Status { get; init; } = ProvisionedStatus.Running;
    public int? ExitCode { get; init; }

    /// <summary>EUR per started hour, for providers that bill so.</summary>
    public decimal? HourlyPrice { get; init; }

    /// <summary>When the provider began billing the resource (a Hetzner server's creation), for providers that bill by the hour.</summary>
    public DateTimeOffset? BilledSince { get; init; }
}

/// <summary>Whether the resource still runs its runner.</summary>
internal enum ProvisionedStatus
{
    /// <summary>Made but never started; it will not start by itself (a container whose controller died before starting it).</summary>
    Created,

    /// <summary>Starting by itself (a server that boots).</summary>
    Starting,
    Running,
    Exited,
}
