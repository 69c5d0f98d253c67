namespace RunnerFleet.Controller.Telemetry;

/// <summary>Every metric name in one place (OpenTelemetry semantic naming).</summary>
internal static class MetricNames
{
    public const string Runners = "runnerfleet.runners";
    public const string JobsQueued = "runnerfleet.jobs.queued";
    public const string JobWait = "runnerfleet.job.wait";
    public const string RunnerBoot = "runnerfleet.runner.boot";
    public const string ProviderErrors = "runnerfleet.provider.errors";
    public const string GitHubRequests = "runnerfleet.github.requests";
    public const string GitHubRateLimitRemaining = "runnerfleet.github.ratelimit.remaining";
    public const string Cost = "runnerfleet.cost";
    public const string CostToday = "runnerfleet.cost.today";
    public const string SpendingCapReached = "runnerfleet.spending.cap_reached";
    public const string HetznerRateLimitRemaining = "runnerfleet.hetzner.ratelimit.remaining";
    public const string PoolUnavailable = "runnerfleet.pool.unavailable";
    public const string Webhooks = "runnerfleet.webhooks";
    public const string ScaleSetDesired = "runnerfleet.scaleset.desired";
    public const string PolicyContained = "runnerfleet.policy.contained";
    public const string PolicyCancelFailures = "runnerfleet.policy.cancel_failures";
    public const string Rebuilds = "runnerfleet.servers.rebuilds";
    public const string CostPerJobToday = "runnerfleet.cost.per_job_today";
    public const string CacheSize = "runnerfleet.cache.size";
    public const string CacheHits = "runnerfleet.cache.hits";
    public const string CacheWriteBacks = "runnerfleet.cache.write_backs";
    public const string CacheDiscards = "runnerfleet.cache.discards";
}
