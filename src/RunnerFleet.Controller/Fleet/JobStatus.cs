namespace RunnerFleet.Controller.Fleet;

/// <summary>A workflow job's status as GitHub reports it, in the order it moves.</summary>
public enum JobStatus
{
    Queued,
    InProgress,
    Completed,
}
