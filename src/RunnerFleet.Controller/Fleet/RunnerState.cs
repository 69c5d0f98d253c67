namespace RunnerFleet.Controller.Fleet;

/// <summary>Where a runner is in its one-job life. Transitions are checked by <see cref="RunnerStateMachine"/>.</summary>
public enum RunnerState
{
    Requested,
    Provisioning,
    Idle,
    Busy,
    Completed,
    Destroying,
    Gone,
    Failed,
}
