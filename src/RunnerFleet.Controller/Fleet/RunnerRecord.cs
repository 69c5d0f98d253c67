namespace RunnerFleet.Controller.Fleet;

/// <summary>What the fleet knows of one runner, from request to destruction.</summary>
internal sealed record RunnerRecord
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Pool { get; init; }
    public required string Provider { get; init; }

    /// <summary>"owner/repo" or an organization: where the runner is registered.</summary>
    public required string Scope { get; init; }

    public required RunnerState State { get; init; }
    public string? ProviderResourceId { get; init; }

    /// <summary>Which engine or location holds the resource.</summary>
    public string? ProviderEndpoint { get; init; }

    public long? GitHubRunnerId { get; init; }
    public long? JobId { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
    public DateTimeOffset? OnlineAt { get; init; }
    public DateTimeOffset? BusyAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public DateTimeOffset? DestroyedAt { get; init; }
    public string? FailureReason { get; init; }
    public decimal Cost { get; init; }

    /// <summary>What the resource costs per started hour (EUR, gross), when the provider bills by the hour.</summary>
    public decimal? HourlyPrice { get; init; }

    /// <summary>W3C traceparent of the runner's lifecycle trace: later spans (boot, job, teardown) join it.</summary>
    public string? TraceParent { get; init; }

    /// <summary>The controller (node id) that requested it: while it is alive, a Requested record is its work in progress.</summary>
    public string? Owner { get; init; }

    /// <summary>When the provider began billing the resource (a Hetzner server's creation); null: <see cref="CreatedAt"/>.</summary>
    public DateTimeOffset? BilledSince { get; init; }

    /// <summary>The runner whose machine was rebuilt for this one within its paid hour; null for a machine made for it.</summary>
    public string? PreviousRunner { get; init; }

    /// <summary>
    /// Cost of a resource billed per started hour, from its billing start until <paramref name="end"/>; for a machine
    /// handed over from <see cref="PreviousRunner"/>, less the hours begun before the handover (<see cref="RequestedAt"/>),
    /// which the runners before it were charged: each machine's hours are counted once, however many runners it served.
    /// </summary>
    public decimal CostUntil(DateTimeOffset end)
    {
        if (HourlyPrice is not { } price || (BilledSince ?? CreatedAt) is not { } since)
        {
            return Cost;
        }

        var before = PreviousRunner is not null ? StartedHours(since, RequestedAt) : 0;
        return price * Math.Max(0, StartedHours(since, end) - before);
    }

    /// <summary>Hours begun between <paramref name="from"/> and <paramref name="to"/>, at least one (Hetzner bills a started hour).</summary>
    public static int StartedHours(DateTimeOffset from, DateTimeOffset to) => (int)Math.Max(1, Math.Ceiling((to - from).TotalHours));
}
