using System.Diagnostics;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Telemetry;

/// <summary>
/// The later spans of a runner's lifecycle trace, recorded when the transition that ends them is written:
/// <c>runner.boot</c> (created → online), <c>runner.job</c> (busy → completed) and <c>runner.teardown</c>
/// (last activity → destroyed), each a child of the runner's <c>runner.provision</c> span whose traceparent
/// the record keeps, so the trace survives a controller restart.
/// </summary>
internal static class LifecycleSpans
{
    public static void OnTransition(RunnerRecord before, RunnerRecord after)
    {
        if (after.TraceParent is null || !ActivityContext.TryParse(after.TraceParent, null, out var parent))
        {
            return;
        }

        if (before.OnlineAt is null && (after.OnlineAt ?? after.BusyAt) is { } online && after.CreatedAt is { } created)
        {
            Record("runner.boot", parent, after, created, online);
        }

        if (before.CompletedAt is null && after.CompletedAt is { } completed && after.BusyAt is { } busy)
        {
            Record("runner.job", parent, after, busy, completed, ("job.id", after.JobId));
        }

        if (RunnerStateMachine.IsFinal(after.State) && !RunnerStateMachine.IsFinal(before.State))
        {
            var end = after.DestroyedAt ?? after.CompletedAt ?? DateTimeOffset.UtcNow;
            var start = new[] { after.CompletedAt, after.OnlineAt, after.CreatedAt }.Max() ?? after.RequestedAt;
            Record("runner.teardown", parent, after, start <= end ? start : end, end, ("runner.state", after.State.ToString()), ("runner.failure", after.FailureReason));
        }
    }

    private static void Record(string name, ActivityContext parent, RunnerRecord r, DateTimeOffset start, DateTimeOffset end, params (string Key, object? Value)[] tags)
    {
        using var activity = FleetTelemetry.ActivitySource.StartActivity(name, ActivityKind.Internal, parent, startTime: start);
        if (activity is null)
        {
            return;
        }

        activity.SetTag("runner.name", r.Name);
        activity.SetTag("runner.pool", r.Pool);
        foreach (var (key, value) in tags.Where(t => t.Value is not null))
        {
            activity.SetTag(key, value);
        }

        if (r.State == RunnerState.Failed && name == "runner.teardown")
        {
            activity.SetStatus(ActivityStatusCode.Error, r.FailureReason);
        }

        activity.SetEndTime(end.UtcDateTime);
    }
}
