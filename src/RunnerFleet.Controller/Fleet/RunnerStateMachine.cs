namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// The one place that says which runner state may follow which. Signals arrive out of order (a webhook
/// can report a job finished before a poll saw the runner online), so forward jumps are legal; going
/// back never is. <see cref="RunnerState.Failed"/> may follow any state but <see cref="RunnerState.Gone"/>.
/// </summary>
internal static class RunnerStateMachine
{
    private static readonly Dictionary<RunnerState, RunnerState[]> s_next = new()
    {
        [RunnerState.Requested] = [RunnerState.Provisioning, RunnerState.Destroying],
        [RunnerState.Provisioning] = [RunnerState.Idle, RunnerState.Busy, RunnerState.Completed, RunnerState.Destroying],
        [RunnerState.Idle] = [RunnerState.Busy, RunnerState.Completed, RunnerState.Destroying],
        [RunnerState.Busy] = [RunnerState.Completed, RunnerState.Destroying],
        [RunnerState.Completed] = [RunnerState.Destroying],
        [RunnerState.Destroying] = [RunnerState.Gone],
        [RunnerState.Gone] = [],
        [RunnerState.Failed] = [],
    };

    public static bool CanTransition(RunnerState from, RunnerState to) =>
        (to == RunnerState.Failed && from is not (RunnerState.Gone or RunnerState.Failed)) || s_next[from].Contains(to);

    /// <summary>States in which a runner exists or is about to, and counts against a pool's maximum.</summary>
    public static bool IsLive(RunnerState state) =>
        state is RunnerState.Requested or RunnerState.Provisioning or RunnerState.Idle or RunnerState.Busy;

    /// <summary>States after which nothing more happens to a record.</summary>
    public static bool IsFinal(RunnerState state) => state is RunnerState.Gone or RunnerState.Failed;
}
