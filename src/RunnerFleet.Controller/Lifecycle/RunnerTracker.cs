using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Moves runner records forward from what GitHub says: a job in progress on one of our runners makes it
/// Busy, a completed one Completed; the runner list makes it Idle. Signals arrive in any order and twice;
/// each is applied only if it moves the runner forward.
/// </summary>
internal sealed class RunnerTracker(IFleetStore store, RunnerTransitions transitions, PoolCatalog pools, IFleetSignals signals, FleetTelemetry telemetry, TimeProvider time)
{
    private readonly string[] _poolNames = [.. pools.Pools.Select(p => p.Name)];

    /// <summary>A runner of this fleet by its exact name shape (never a prefix: another fleet may share it).</summary>
    public bool IsOurs(string? runnerName) => RunnerNames.IsOf(pools.FleetName, _poolNames, runnerName);

    /// <summary>The pool of one of our runners, by its name; null for anyone else's runner.</summary>
    public PoolDefinition? PoolOf(string? runnerName) => RunnerNames.PoolOf(pools.FleetName, _poolNames, runnerName) is { } pool ? pools.Find(pool) : null;

    public Task OnJobAsync(JobRecord job, CancellationToken ct) =>
        OnRunnerJobAsync(job.RunnerName, job.Id, job.Status, job.StartedAt, job.CompletedAt, job.QueuedAt, job.Conclusion, ct);

    /// <summary>
    /// One of our runners started or finished a job. <paramref name="jobId"/> is the REST workflow-job id when
    /// the source knows one (a scale set's jobs have their own ids, kept apart in the store).
    /// </summary>
    public async Task OnRunnerJobAsync(string? runnerName, long? jobId, JobStatus status, DateTimeOffset? startedAt, DateTimeOffset? completedAt, DateTimeOffset? queuedAt, string? conclusion, CancellationToken ct)
    {
        if (!IsOurs(runnerName) || await store.FindRunnerByNameAsync(runnerName!, ct).ConfigureAwait(false) is not { } runner)
        {
            return;
        }

        var now = time.GetUtcNow();
        var wasBusy = runner.BusyAt is not null;
        var what = jobId is { } id ? $"job {id}" : "its job";
        var updated = await transitions.ApplyAsync(runner.Id, r =>
        {
            var busyAt = r.BusyAt ?? startedAt ?? now;
            var withJob = r with { JobId = jobId ?? r.JobId, BusyAt = busyAt, OnlineAt = r.OnlineAt ?? busyAt };
            return (status, r.State) switch
            {
                (JobStatus.InProgress, RunnerState.Provisioning or RunnerState.Idle) => (withJob with { State = RunnerState.Busy }, $"took {what}"),
                (JobStatus.Completed, RunnerState.Provisioning or RunnerState.Idle or RunnerState.Busy) =>
                    (withJob with { State = RunnerState.Completed, CompletedAt = completedAt ?? now }, $"{what} {conclusion ?? "completed"}"),
                (_, RunnerState.Completed or RunnerState.Destroying or RunnerState.Gone or RunnerState.Failed) when r.JobId is null && jobId is not null =>
                    (r with { JobId = jobId, BusyAt = busyAt, OnlineAt = r.OnlineAt ?? busyAt }, $"learned {what}"),
                _ => null,
            };
        }, ct).ConfigureAwait(false);

        if (updated is { BusyAt: { } busy } && !wasBusy)
        {
            if (queuedAt is { } queued)
            {
                telemetry.JobWait(updated.Pool, busy - queued);
            }

            if (runner.OnlineAt is null)
            {
                RecordBoot(updated);
            }
        }

        if (updated?.State == RunnerState.Completed)
        {
            signals.RunnerExited(updated.Name);
        }
    }

    /// <summary>Applies GitHub's runner list for one scope.</summary>
    public async Task OnRunnersAsync(IReadOnlyList<GitHubRunner> runners, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var gh in runners.Where(r => IsOurs(r.Name)))
        {
            if (await store.FindRunnerByNameAsync(gh.Name, ct).ConfigureAwait(false) is not { } runner || !RunnerStateMachine.IsLive(runner.State))
            {
                continue;
            }

            var changed = await transitions.ApplyAsync(runner.Id, r => (gh.Online, gh.Busy, r.State) switch
            {
                (true, false, RunnerState.Provisioning) => (r with { State = RunnerState.Idle, OnlineAt = r.OnlineAt ?? now, GitHubRunnerId = r.GitHubRunnerId ?? gh.Id }, "online"),
                (_, true, RunnerState.Provisioning or RunnerState.Idle) => (r with { State = RunnerState.Busy, OnlineAt = r.OnlineAt ?? now, BusyAt = r.BusyAt ?? now, GitHubRunnerId = r.GitHubRunnerId ?? gh.Id }, "busy"),
                _ when r.GitHubRunnerId is null => (r with { GitHubRunnerId = gh.Id }, "learned GitHub runner id"),
                _ => null,
            }, ct).ConfigureAwait(false);
            if (runner.OnlineAt is null && changed?.OnlineAt is not null)
            {
                RecordBoot(changed);
            }
        }
    }

    /// <summary>Boot time: resource created to runner online. GitHub's timestamps have whole seconds, so a sub-second boot can look negative: it counts as zero.</summary>
    private void RecordBoot(RunnerRecord r)
    {
        if (r.CreatedAt is { } created && r.OnlineAt is { } online)
        {
            telemetry.RunnerBoot(r.Pool, online > created ? online - created : TimeSpan.Zero);
        }
    }
}
