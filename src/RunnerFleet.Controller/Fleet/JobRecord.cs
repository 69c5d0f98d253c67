namespace RunnerFleet.Controller.Fleet;

/// <summary>A workflow job seen by a job source. <see cref="Pool"/> is null when no pool serves its labels.</summary>
public sealed record JobRecord
{
    public required long Id { get; init; }
    public required string Repository { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required JobStatus Status { get; init; }
    public long RunId { get; init; }
    public string? Name { get; init; }
    public string? Pool { get; init; }
    public string? Scope { get; init; }
    public string? RunnerName { get; init; }
    public string? Conclusion { get; init; }
    public DateTimeOffset? QueuedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
}
