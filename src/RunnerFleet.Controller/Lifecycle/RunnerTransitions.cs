using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Applies a state change to a runner record: checked against <see cref="RunnerStateMachine"/>, written
/// with optimistic concurrency (a lost race reloads and re-decides), logged with the runner's name and pool.
/// </summary>
internal sealed partial class RunnerTransitions(IFleetStore store, ILogger<RunnerTransitions> logger)
{
    /// <summary>
    /// Loads the runner, asks <paramref name="decide"/> for its next record (null: nothing to do) and writes it.
    /// Returns the record as stored afterwards, or null when the runner does not exist.
    /// </summary>
    public async Task<RunnerRecord?> ApplyAsync(string runnerId, Func<RunnerRecord, (RunnerRecord Next, string Detail)?> decide, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var current = await store.GetRunnerAsync(runnerId, ct).ConfigureAwait(false);
            if (current is null)
            {
                return null;
            }

            if (decide(current) is not var (next, detail))
            {
                return current;
            }

            if (next.State == current.State)
            {
                await store.UpdateRunnerAsync(next, ct).ConfigureAwait(false);
                return next;
            }

            if (!RunnerStateMachine.CanTransition(current.State, next.State))
            {
                // A bug, never applied silently.
                LogIllegal(logger, current.Name, current.Pool, current.State, next.State, detail);
                return current;
            }

            if (await store.TransitionAsync(next, current.State, detail, ct).ConfigureAwait(false))
            {
                LogTransition(logger, current.Name, current.Pool, current.State, next.State, detail);
                LifecycleSpans.OnTransition(current, next);
                return next;
            }
        }

        return await store.GetRunnerAsync(runnerId, ct).ConfigureAwait(false);
    }

    /// <summary>Marks the runner Failed with a reason, from whatever state it is in (unless final).</summary>
    public Task<RunnerRecord?> FailAsync(string runnerId, string reason, DateTimeOffset now, CancellationToken ct) =>
        ApplyAsync(runnerId, r => RunnerStateMachine.IsFinal(r.State)
            ? null
            : (r with { State = RunnerState.Failed, FailureReason = reason, CompletedAt = r.CompletedAt ?? (r.JobId is null ? null : now) }, reason), ct);

    [LoggerMessage(Level = LogLevel.Information, Message = "Runner {RunnerName} ({Pool}): {From} -> {To}: {Detail}")]
    private static partial void LogTransition(ILogger logger, string runnerName, string pool, RunnerState from, RunnerState to, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Illegal transition refused for runner {RunnerName} ({Pool}): {From} -> {To} ({Detail}). This is a bug.")]
    private static partial void LogIllegal(ILogger logger, string runnerName, string pool, RunnerState from, RunnerState to, string detail);
}
