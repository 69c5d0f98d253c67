using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Api;

/// <summary>The read API (<c>/api/…</c>).</summary>
internal static class FleetApi
{
    public static IEndpointRouteBuilder MapFleetApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api");

        api.MapGet("/runners", async (IFleetStore store, string? state, int? limit, CancellationToken ct) =>
        {
            var runners = await store.ListRunnersAsync(Math.Clamp(limit ?? 500, 1, 1000), ct).ConfigureAwait(false);
            return Results.Ok(runners
                .Where(r => state is null || string.Equals(r.State.ToString(), state, StringComparison.OrdinalIgnoreCase))
                .Select(RunnerView.From));
        });

        api.MapGet("/runners/{name}/events", async (IFleetStore store, string name, CancellationToken ct) =>
            await store.FindRunnerByNameAsync(name, ct).ConfigureAwait(false) is { } r
                ? Results.Ok(await store.ListEventsAsync(r.Id, ct).ConfigureAwait(false))
                : Results.NotFound(new { error = $"no runner named {name}" }));

        // A scale set's jobs, by the service's jobId (their own key space, apart from REST workflow jobs).
        api.MapGet("/scalesets/jobs", async (IFleetStore store, int? limit, CancellationToken ct) =>
            Results.Ok((await store.ListScaleSetJobsAsync(Math.Clamp(limit ?? 500, 1, 1000), ct).ConfigureAwait(false)).Select(j => new
            {
                jobId = j.JobId, pool = j.Pool, repository = j.Repository, name = j.Name, state = j.State.ToString(), runnerName = j.RunnerName,
                result = j.Result, assignments = j.Assignments, queuedAt = j.QueuedAt, startedAt = j.StartedAt, completedAt = j.CompletedAt,
            })));

        api.MapGet("/jobs", async (IFleetStore store, string? status, int? limit, CancellationToken ct) =>
        {
            JobStatus? filter = status is null ? null : Enum.TryParse<JobStatus>(status.Replace("_", string.Empty, StringComparison.Ordinal), true, out var s) ? s : null;
            if (status is not null && filter is null)
            {
                return Results.BadRequest(new { error = "status must be queued, in_progress or completed" });
            }

            var jobs = await store.ListJobsAsync(filter, Math.Clamp(limit ?? 500, 1, 1000), ct).ConfigureAwait(false);
            return Results.Ok(jobs.Select(JobView.From));
        });

        api.MapGet("/pools", async (IFleetStore store, PoolCatalog pools, PoolAvailability availability, Caching.RunnerCaches caches, TimeProvider time, CancellationToken ct) =>
        {
            var cacheStats = caches.Stats();
            var now = time.GetUtcNow();
            var drainedPools = await store.ListDrainedPoolsAsync(ct).ConfigureAwait(false);
            var runners = await store.ListActiveRunnersAsync(ct).ConfigureAwait(false);
            var costToday = await store.CostTodayAsync(runners, now, ct).ConfigureAwait(false);
            var costPerJob = await store.CostPerJobTodayAsync(costToday, now, ct).ConfigureAwait(false);
            var queued = await store.ListJobsAsync(JobStatus.Queued, 10_000, ct).ConfigureAwait(false);
            var targets = await store.ListPoolTargetsAsync(ct).ConfigureAwait(false);
            return Results.Ok(pools.Pools.Select(p => new
            {
                name = p.Name,
                labels = p.Labels,
                provider = p.Provider,
                minIdle = p.MinIdle,
                maxRunners = p.MaxRunners,
                overflow = p.Overflow,
                channel = p.Channel,
                settings = pools.Describe(p),
                runners = Enum.GetValues<RunnerState>().Where(s => !RunnerStateMachine.IsFinal(s))
                    .ToDictionary(s => s.ToString(), s => runners.Count(r => r.Pool == p.Name && r.State == s)),
                queuedJobs = queued.Count(j => j.Pool == p.Name),
                target = targets.GetValueOrDefault(p.Name) is { } t ? new { assignedJobs = t.AssignedJobs, desired = t.Desired, at = t.At } : null,
                costToday = costToday.GetValueOrDefault(p.Name),
                costPerJobToday = costPerJob.TryGetValue(p.Name, out var perJob) ? perJob : (decimal?)null,
                unavailable = availability.ReasonOf(p.Name, now),
                drained = drainedPools.Contains(p.Name),
                cache = cacheStats.TryGetValue(p.Name, out var c)
                    ? new { scope = c.Scope, sizeBytes = c.SizeBytes, maxSizeBytes = c.MaxSizeBytes, scopes = c.Scopes, hits = c.Hits, writeBacks = c.WriteBacks, discards = c.Discards }
                    : null,
            }));
        });

        return app;
    }
}

/// <summary>A runner as the API shows it.</summary>
internal sealed record RunnerView(
    string Id, string Name, string Pool, string Provider, string Scope, string State, string? ProviderResourceId, string? ProviderEndpoint,
    long? GitHubRunnerId, long? JobId, DateTimeOffset RequestedAt, DateTimeOffset? CreatedAt, DateTimeOffset? OnlineAt, DateTimeOffset? BusyAt,
    DateTimeOffset? CompletedAt, DateTimeOffset? DestroyedAt, string? FailureReason, decimal Cost)
{
    public static RunnerView From(RunnerRecord r) => new(r.Id, r.Name, r.Pool, r.Provider, r.Scope, r.State.ToString(), r.ProviderResourceId, r.ProviderEndpoint,
        r.GitHubRunnerId, r.JobId, r.RequestedAt, r.CreatedAt, r.OnlineAt, r.BusyAt, r.CompletedAt, r.DestroyedAt, Redact(r.FailureReason), r.Cost);

    /// <summary>A provider's raw error can name internal addresses: URLs and IP addresses are left out of what the API shows (the log has them).</summary>
    internal static string? Redact(string? reason) => reason is null ? null
        : System.Text.RegularExpressions.Regex.Replace(reason, @"[a-z][a-z0-9+.-]*://[^\s'""]+|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "[address]", System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
}

/// <summary>A job as the API shows it.</summary>
internal sealed record JobView(long Id, long RunId, string Repository, string? Name, IReadOnlyList<string> Labels, string Status, string? Pool, string? RunnerName,
    string? Conclusion, DateTimeOffset? QueuedAt, DateTimeOffset? StartedAt, DateTimeOffset? CompletedAt, string? Refusal)
{
    public static JobView From(JobRecord j) => new(j.Id, j.RunId, j.Repository, j.Name, j.Labels,
        j.Status switch { JobStatus.Queued => "queued", JobStatus.InProgress => "in_progress", _ => "completed" },
        j.Pool, j.RunnerName, j.Conclusion, j.QueuedAt, j.StartedAt, j.CompletedAt, j.Refusal);
}
