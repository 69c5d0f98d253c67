using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RunnerFleet.Controller.Telemetry;

/// <summary>The fleet's Meter and ActivitySource, and every instrument, named as in the design (§8).</summary>
internal sealed class FleetTelemetry : IDisposable
{
    public const string Name = "RunnerFleet";

    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>Seconds, from a container's half second to a server's ten minutes.</summary>
    private static readonly InstrumentAdvice<double> s_secondsBuckets = new() { HistogramBucketBoundaries = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800] };

    private readonly Meter _meter;
    private readonly Counter<long> _providerErrors;
    private readonly Counter<long> _githubRequests;
    private readonly Counter<double> _cost;
    private readonly Histogram<double> _jobWait;
    private readonly Histogram<double> _runnerBoot;
    private readonly Counter<long> _webhooks;
    private readonly Counter<long> _contained;
    private readonly Counter<long> _cancelFailures;
    private readonly Counter<long> _rebuilds;
    private volatile IReadOnlyDictionary<(string Pool, string State), int> _runners = new Dictionary<(string, string), int>();
    private volatile IReadOnlyDictionary<string, int> _queued = new Dictionary<string, int>();
    private readonly ConcurrentDictionary<string, long> _rateRemaining = new();
    private readonly Counter<long> _poolUnavailable;
    private long? _hetznerRemaining;
    private volatile IReadOnlyDictionary<string, decimal> _costToday = new Dictionary<string, decimal>();
    private volatile IReadOnlyDictionary<string, decimal> _costPerJob = new Dictionary<string, decimal>();
    private readonly Counter<long> _capReached;
    private readonly ConcurrentDictionary<string, int> _scaleSetDesired = new();
    private readonly Counter<long> _cacheHits;
    private readonly Counter<long> _cacheWriteBacks;
    private readonly Counter<long> _cacheDiscards;
    private volatile IReadOnlyDictionary<string, long> _cacheBytes = new Dictionary<string, long>();

    public FleetTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Name);
        _meter.CreateObservableGauge(MetricNames.Runners, () => _runners.Select(kv =>
            new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("pool", kv.Key.Pool), new KeyValuePair<string, object?>("state", kv.Key.State))),
            description: "Runners by pool and state");
        _meter.CreateObservableGauge(MetricNames.JobsQueued, () => _queued.Select(kv =>
            new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("pool", kv.Key))),
            description: "Queued jobs a pool serves");
        _meter.CreateObservableGauge(MetricNames.GitHubRateLimitRemaining, () => _rateRemaining.Select(kv =>
            new Measurement<long>(kv.Value, new KeyValuePair<string, object?>("resource", kv.Key))),
            description: "GitHub primary rate limit left");
        _meter.CreateObservableGauge(MetricNames.HetznerRateLimitRemaining, () => _hetznerRemaining is { } v ? [new Measurement<long>(v)] : Array.Empty<Measurement<long>>(),
            description: "Hetzner Cloud API requests left this hour");
        _meter.CreateObservableGauge(MetricNames.CostToday, () => _costToday.Select(kv =>
            new Measurement<double>((double)kv.Value, new KeyValuePair<string, object?>("pool", kv.Key))),
            "EUR", "Money spent today (UTC) by paid pool, live runners included");
        _meter.CreateObservableGauge(MetricNames.CostPerJobToday, () => _costPerJob.Select(kv =>
            new Measurement<double>((double)kv.Value, new KeyValuePair<string, object?>("pool", kv.Key))),
            "EUR", "Today's (UTC) cost of a paid pool over the jobs its runners ran; each machine's hours counted once");
        _capReached = _meter.CreateCounter<long>(MetricNames.SpendingCapReached, description: "Times a daily spending cap stopped new paid runners, by pool (\"fleet\" for the fleet's cap)");
        _meter.CreateObservableGauge(MetricNames.ScaleSetDesired, () => _scaleSetDesired.Select(kv =>
            new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("pool", kv.Key))),
            description: "Runners a scale-set pool wants: min(MinIdle + assigned jobs, MaxRunners), from the last message statistics");
        _poolUnavailable = _meter.CreateCounter<long>(MetricNames.PoolUnavailable, description: "Times a pool stopped provisioning (no capacity, quota, platform) by reason");
        _jobWait = _meter.CreateHistogram(MetricNames.JobWait, "s", "Job queued to runner busy", advice: s_secondsBuckets);
        _runnerBoot = _meter.CreateHistogram(MetricNames.RunnerBoot, "s", "Runner created to online", advice: s_secondsBuckets);
        _providerErrors = _meter.CreateCounter<long>(MetricNames.ProviderErrors, description: "Provider failures by provider and code");
        _githubRequests = _meter.CreateCounter<long>(MetricNames.GitHubRequests, description: "GitHub REST requests by endpoint and status");
        _cost = _meter.CreateCounter<double>(MetricNames.Cost, "EUR", "Money spent on runners");
        _webhooks = _meter.CreateCounter<long>(MetricNames.Webhooks, description: "Webhook deliveries by outcome");
        _contained = _meter.CreateCounter<long>(MetricNames.PolicyContained, description: "Runners destroyed because they took a job policy refused (refused) or could not decide (undecided)");
        _meter.CreateObservableGauge(MetricNames.CacheSize, () => _cacheBytes.Select(kv =>
            new Measurement<long>(kv.Value, new KeyValuePair<string, object?>("pool", kv.Key))), "By", "Bytes in each pool's warm caches (current generations)");
        _cacheHits = _meter.CreateCounter<long>(MetricNames.CacheHits, description: "Runners started with a non-empty warm cache, by pool");
        _cacheWriteBacks = _meter.CreateCounter<long>(MetricNames.CacheWriteBacks, description: "Runner cache layers merged into their scope's cache (trusted jobs), by pool");
        _cacheDiscards = _meter.CreateCounter<long>(MetricNames.CacheDiscards, description: "Runner cache layers thrown away, by pool and reason (untrusted, undecided, failed, no_job, interrupted)");
        _rebuilds = _meter.CreateCounter<long>(MetricNames.Rebuilds, description: "Servers rebuilt for a new runner within their paid hour instead of deleted, by pool and outcome (rebuilt, failed)");
        _cancelFailures = _meter.CreateCounter<long>(MetricNames.PolicyCancelFailures, description: "Runs policy wanted cancelled that GitHub would not cancel, by reason (forbidden: the token lacks actions: write)");
    }

    public void SetFleetState(IReadOnlyDictionary<(string Pool, string State), int> runners, IReadOnlyDictionary<string, int> queued)
    {
        _runners = runners;
        _queued = queued;
    }

    public void ScaleSetDesired(string pool, int desired) => _scaleSetDesired[pool] = desired;

    public void SetCostToday(IReadOnlyDictionary<string, decimal> costToday) => _costToday = costToday;

    public void SetCostPerJobToday(IReadOnlyDictionary<string, decimal> perJob) => _costPerJob = perJob;

    public void SpendingCapReached(string? pool) => _capReached.Add(1, new KeyValuePair<string, object?>("pool", pool ?? "fleet"));

    public void GitHubRequest(string endpoint, int status) =>
        _githubRequests.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("status", status));

    public void RateLimitRemaining(string resource, long remaining) => _rateRemaining[resource] = remaining;

    public void HetznerRateLimitRemaining(long remaining) => _hetznerRemaining = remaining;

    public long? HetznerRateLimitRemainingValue => _hetznerRemaining;

    public void PoolUnavailable(string pool, string reason) =>
        _poolUnavailable.Add(1, new KeyValuePair<string, object?>("pool", pool), new KeyValuePair<string, object?>("reason", reason));

    public long? RateLimitRemainingOf(string resource) => _rateRemaining.TryGetValue(resource, out var v) ? v : null;

    public void ProviderError(string provider, string code) =>
        _providerErrors.Add(1, new KeyValuePair<string, object?>("provider", provider), new KeyValuePair<string, object?>("code", code));

    public void JobWait(string pool, TimeSpan wait) => _jobWait.Record(wait.TotalSeconds, new KeyValuePair<string, object?>("pool", pool));

    public void RunnerBoot(string pool, TimeSpan boot) => _runnerBoot.Record(boot.TotalSeconds, new KeyValuePair<string, object?>("pool", pool));

    public void Cost(string pool, decimal euros) => _cost.Add((double)euros, new KeyValuePair<string, object?>("pool", pool));

    public void PolicyContained(string verdict) => _contained.Add(1, new KeyValuePair<string, object?>("verdict", verdict));

    public void PolicyCancelFailed(string reason) => _cancelFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Rebuild(string pool, string outcome) =>
        _rebuilds.Add(1, new KeyValuePair<string, object?>("pool", pool), new KeyValuePair<string, object?>("outcome", outcome));

    public void CacheHit(string pool) => _cacheHits.Add(1, new KeyValuePair<string, object?>("pool", pool));

    public void CacheWriteBack(string pool) => _cacheWriteBacks.Add(1, new KeyValuePair<string, object?>("pool", pool));

    public void CacheDiscard(string pool, string reason) =>
        _cacheDiscards.Add(1, new KeyValuePair<string, object?>("pool", pool), new KeyValuePair<string, object?>("reason", reason));

    public void CacheSizes(IReadOnlyDictionary<string, long> bytesByPool) => _cacheBytes = bytesByPool;

    public void Webhook(string outcome) => _webhooks.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void Dispose() => _meter.Dispose();
}
