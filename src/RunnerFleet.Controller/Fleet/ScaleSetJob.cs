namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// A job a runner scale set was given, keyed by the Actions service's <c>jobId</c> (a string, its own key
/// space: never a REST workflow-job id). github.com sends <c>runnerRequestId: 0</c> in these messages since
/// mid-2025 (garm PR #459, actions-runner-controller PR #4239 moved to <c>JobID</c>), so the request id
/// identifies nothing. A job nobody acquired in time is cancelled and assigned again (up to 3 times): it
/// stays this one job, with <see cref="Assignments"/> counting.
/// </summary>
internal sealed record ScaleSetJob
{
    public required string JobId { get; init; }
    public required string Pool { get; init; }
    public required string Repository { get; init; }
    public string? Name { get; init; }
    public required ScaleSetJobState State { get; init; }
    public string? RunnerName { get; init; }

    /// <summary>The service's result once completed: succeeded, failed, canceled, ...</summary>
    public string? Result { get; init; }
    public int Assignments { get; init; }
    public DateTimeOffset? QueuedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>
    /// Applies one job event to what is known (null: nothing yet). Events can come twice and out of order
    /// across messages; a job only moves forward, except that an assignment after a cancellation (the
    /// service reassigning a job nobody took) opens it again.
    /// </summary>
    public static ScaleSetJob? Apply(ScaleSetJob? known, ScaleSetJob seen)
    {
        if (known is null)
        {
            return seen with { Assignments = seen.State == ScaleSetJobState.Assigned ? 1 : 0 };
        }

        var reassigned = seen.State == ScaleSetJobState.Assigned && known is { State: ScaleSetJobState.Completed, Result: "canceled", RunnerName: null };
        if (reassigned)
        {
            return known with { State = ScaleSetJobState.Assigned, Result = null, CompletedAt = null, Assignments = known.Assignments + 1 };
        }

        if (seen.State <= known.State)
        {
            return null;
        }

        return known with
        {
            State = seen.State,
            RunnerName = seen.RunnerName ?? known.RunnerName,
            Result = seen.Result ?? known.Result,
            StartedAt = known.StartedAt ?? seen.StartedAt,
            CompletedAt = seen.CompletedAt ?? known.CompletedAt,
            Name = known.Name ?? seen.Name,
        };
    }
}

/// <summary>Where a scale set's job is, in the order it moves.</summary>
public enum ScaleSetJobState
{
    /// <summary>Waiting to be acquired (GHES: until the listener acquires it).</summary>
    Available,

    /// <summary>Assigned to the scale set: any idle runner of the set may take it.</summary>
    Assigned,

    /// <summary>Running on a runner of the set.</summary>
    Started,

    /// <summary>Done (or cancelled; a cancelled job may be assigned again).</summary>
    Completed,
}

/// <summary>
/// What a channel wants of a pool, from its own source of truth (a scale set's statistics): how many jobs
/// are assigned to it, running ones included, and the runner count that follows.
/// </summary>
internal sealed record PoolTarget(string Pool, int AssignedJobs, int Desired, DateTimeOffset At);
