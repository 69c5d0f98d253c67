using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.Bench;

/// <summary>
/// throughput.json: the highest arrival rate the controller serves with a bounded queue, and which limit binds first.
/// <para>Measured: Poisson streams at rising rates (in-process runners, so the engine is out of the way; GitHub's
/// round trips injected; polling every 10 s and webhooks; public and private repositories), each for a fixed
/// window. A stream is bounded when the jobs arriving in its last third start about as fast as those of its first
/// third (p95 within 2× + 5 s) and every job started. The same streams give GitHub requests and writes per job.</para>
/// <para>Derived, for the limits an hour's window cannot show in minutes: each limit's ceiling in jobs an hour —
/// GitHub's primary limit (5,000/h for a token; 15,000/h for an App installation on GitHub Enterprise Cloud,
/// up to 12,500/h otherwise) ÷ requests per job; the 900 points/min secondary limit (a write costs 5) ÷ writes per
/// job; the controller's serialized writes at the injected write latency; the store's per-job work (measured
/// here, one writer); one Docker engine's create + start + remove (measured here).</para>
/// </summary>
internal static class ThroughputBench
{
    private static readonly string[] s_labels = ["self-hosted", "linux"];

    public static async Task<BenchResult> RunAsync(bool quick, TextWriter progress)
    {
        var latency = GitHubLatency.Typical(seed: 7);
        var rates = quick ? new[] { 3000 } : [3000, 6000, 12000];
        var window = quick ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(90);
        var streams = new JsonObject();
        var highestBounded = 0;
        double requestsPerJob = 0, writesPerJob = 0;
        foreach (var rate in rates)
        {
            var s = await StreamAsync(rate, window, latency).ConfigureAwait(false);
            progress.WriteLine($"    {rate}/h: {s.Jobs} jobs, {(s.Bounded ? "bounded" : "NOT bounded")}, first third p95 {s.FirstP95:F0} ms, last third p95 {s.LastP95:F0} ms, {s.RequestsPerJob} requests/job");
            streams[rate.ToString(CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["jobs"] = s.Jobs, ["bounded"] = s.Bounded, ["first_third_started_p95_ms"] = Math.Round(s.FirstP95), ["last_third_started_p95_ms"] = Math.Round(s.LastP95),
                ["max_queue_depth"] = s.MaxDepth, ["requests_per_job"] = s.RequestsPerJob, ["writes_per_job"] = s.WritesPerJob,
            };
            if (s.Bounded)
            {
                highestBounded = rate;
            }

            requestsPerJob = Math.Max(requestsPerJob, s.RequestsPerJob);
            writesPerJob = Math.Max(writesPerJob, s.WritesPerJob);
        }

        var storeMsPerJob = await StoreMsPerJobAsync(quick ? 200 : 500).ConfigureAwait(false);
        var engineMs = await EngineMsPerRunnerAsync(quick ? 5 : 15).ConfigureAwait(false);
        // The mean of the injected log-normal write latency: p50 · e^(σ²/2).
        var sigma = Math.Log(latency.Writes!.P99 / latency.Writes.P50) / 2.3263478740408408;
        var writeMeanMs = latency.Writes.P50.TotalMilliseconds * Math.Exp(sigma * sigma / 2);
        var ceilings = new JsonObject
        {
            ["github_primary_token_5000"] = Math.Floor(5000 / requestsPerJob),
            ["github_primary_app_ghec_15000"] = Math.Floor(15000 / requestsPerJob),
            ["github_secondary_points_900_per_min"] = Math.Floor(900.0 / 5 * 60 / Math.Max(writesPerJob, 0.01)),
            ["serialized_writes"] = Math.Floor(3_600_000 / (writeMeanMs * Math.Max(writesPerJob, 0.01))),
            ["store_sqlite"] = Math.Floor(3_600_000 / storeMsPerJob),
            ["docker_engine_one"] = engineMs is null ? null : Math.Floor(3_600_000 / engineMs.Value),
        };
        var appCeilings = ceilings.Where(c => c.Key != "github_primary_token_5000" && c.Value is not null).ToList();
        var binding = appCeilings.MinBy(c => c.Value!.GetValue<double>());
        var tokenBinding = ceilings.Where(c => c.Key != "github_primary_app_ghec_15000" && c.Value is not null).MinBy(c => c.Value!.GetValue<double>());
        var sustained = Math.Min(highestBounded, binding.Value!.GetValue<double>());
        return new BenchResult(new JsonObject
        {
            ["sustained_jobs_per_hour"] = sustained,
            ["sustained_jobs_per_hour_token"] = Math.Min(highestBounded, tokenBinding.Value!.GetValue<double>()),
            ["github_requests_per_job"] = requestsPerJob,
            ["github_writes_per_job"] = writesPerJob,
            ["store_ms_per_job"] = Math.Round(storeMsPerJob, 3),
        }, new JsonObject
        {
            ["streams"] = streams,
            ["window_s"] = window.TotalSeconds,
            ["highest_bounded_rate_tested"] = highestBounded,
            ["ceilings_jobs_per_hour"] = ceilings,
            ["binds_first_app"] = binding.Key,
            ["binds_first_token"] = tokenBinding.Key,
            ["docker_engine_ms_per_runner"] = engineMs,
            ["github_latency"] = new JsonObject { ["reads"] = latency.Reads!.ToString(), ["writes"] = latency.Writes.ToString() },
            ["sustained"] = "the highest tested rate whose queue stayed bounded, capped by the lowest hourly ceiling with a GitHub App on GitHub Enterprise Cloud (15,000 requests/h); _token is the same with a 5,000/h token",
            ["past_10000_per_hour"] = "a GitHub App on GHEC (15,000/h) or a runner scale set (the Actions service's message queue and its JIT configs are not REST rate limit), and Docker engines enough: one engine's ceiling is docker_engine_one",
            ["note"] = "hourly limits are derived from the per-job costs the streams measured; a stream lasts window_s, not an hour",
        });
    }

    private sealed record Stream(int Jobs, bool Bounded, double FirstP95, double LastP95, int MaxDepth, double RequestsPerJob, double WritesPerJob);

    private static async Task<Stream> StreamAsync(int perHour, TimeSpan window, GitHubLatency latency)
    {
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:PollInterval"] = "00:00:10",
            ["Fleet:Pools:0:Name"] = "linux",
            ["Fleet:Pools:0:Labels:0"] = "linux",
            ["Fleet:Pools:0:Provider"] = "inprocess",
            ["Fleet:Pools:0:MaxRunners"] = "300",
            ["InProcess:BootDelay"] = "00:00:01",
        };
        await using var fleet = await BenchFleet.StartAsync(Arrivals.Repositories, settings, webhooks: true, latency: latency, publicRepositories: new HashSet<string>([Arrivals.Repositories[0]])).ConfigureAwait(false);
        fleet.GitHub.Options.RateLimitPerHour = 1_000_000;
        var requestsBefore = fleet.GitHub.RateLimitedRequests;
        var writesBefore = fleet.GitHub.WriteRequests;
        var jobs = new List<SimJob>();
        var maxDepth = 0;
        await Arrivals.PoissonAsync(perHour, window, perHour, i =>
        {
            jobs.Add(Arrivals.QueueMixed(fleet.GitHub, i, s_labels, TimeSpan.FromSeconds(20)));
            maxDepth = Math.Max(maxDepth, fleet.GitHub.Read(() => jobs.Count(j => j.Status == "queued")));
        }).ConfigureAwait(false);

        // Every job must start within a minute of the window's end, and the drain is not part of the rate.
        var deadline = Stopwatch.GetTimestamp() + (60 * Stopwatch.Frequency);
        while (fleet.GitHub.Read(() => jobs.Any(j => j.StartedAt is null)) && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(100).ConfigureAwait(false);
        }

        var (started, all) = fleet.GitHub.Read(() => (jobs.Where(j => j.StartedAt is not null).Select(j => (j.StartedAt!.Value - j.CreatedAt).TotalMilliseconds).ToList(), jobs.All(j => j.StartedAt is not null)));
        var third = Math.Max(1, jobs.Count / 3);
        var byArrival = fleet.GitHub.Read(() => jobs.Select(j => j.StartedAt is { } s ? (s - j.CreatedAt).TotalMilliseconds : double.PositiveInfinity).ToList());
        var first = Report.Percentile(byArrival.Take(third).ToList(), 95);
        var last = Report.Percentile(byArrival.Skip(jobs.Count - third).ToList(), 95);
        var bounded = all && last <= Math.Max(2 * first, first + 5000);
        var requests = fleet.GitHub.RateLimitedRequests - requestsBefore;
        var writes = fleet.GitHub.WriteRequests - writesBefore;
        _ = started;
        await EconomyBench.WaitDoneAsync(fleet, TimeSpan.FromMinutes(3)).ConfigureAwait(false);
        return new Stream(jobs.Count, bounded, first, last, maxDepth, Math.Round(requests / (double)jobs.Count, 2), Math.Round(writes / (double)jobs.Count, 2));
    }

    /// <summary>The store's work for one job, as the controller does it (one writer): job queued, runner record through its states, job started and completed.</summary>
    private static async Task<double> StoreMsPerJobAsync(int jobs)
    {
        await using var fleet = await BenchFleet.StartAsync(["bench/store"], new Dictionary<string, string?>
        {
            ["GitHub:PollInterval"] = "00:00:00",
            ["Fleet:PlanInterval"] = "01:00:00",
            ["Fleet:ReapInterval"] = "01:00:00",
            ["Fleet:ReconcileInterval"] = "01:00:00",
            ["Fleet:Pools:0:Name"] = "linux",
            ["Fleet:Pools:0:Labels:0"] = "linux",
            ["Fleet:Pools:0:Provider"] = "inprocess",
            ["Fleet:Pools:0:MaxRunners"] = "10",
        }, webhooks: false).ConfigureAwait(false);
        var store = fleet.Store;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < jobs; i++)
        {
            var now = DateTimeOffset.UtcNow;
            var job = new JobRecord { Id = 5_000_000 + i, RunId = 6_000_000 + i, Repository = "bench/store", Labels = s_labels, Status = JobStatus.Queued, Pool = "linux", Scope = "bench/store", QueuedAt = now };
            await store.UpsertJobAsync(job, CancellationToken.None).ConfigureAwait(false);
            var runner = new RunnerRecord { Id = Guid.NewGuid().ToString("N"), Name = $"bench-linux-{i:x8}", Pool = "linux", Provider = "inprocess", Scope = "bench/store", State = RunnerState.Requested, RequestedAt = now };
            await store.InsertRunnerAsync(runner, CancellationToken.None).ConfigureAwait(false);
            var previous = RunnerState.Requested;
            foreach (var state in new[] { RunnerState.Provisioning, RunnerState.Busy, RunnerState.Completed, RunnerState.Destroying, RunnerState.Gone })
            {
                runner = runner with { State = state };
                if (!await store.TransitionAsync(runner, previous, "bench", CancellationToken.None).ConfigureAwait(false))
                {
                    throw new InvalidOperationException($"store transition {previous} -> {state} refused");
                }

                previous = state;
            }

            await store.UpsertJobAsync(job with { Status = JobStatus.InProgress, RunnerName = runner.Name, StartedAt = now }, CancellationToken.None).ConfigureAwait(false);
            await store.UpsertJobAsync(job with { Status = JobStatus.Completed, RunnerName = runner.Name, StartedAt = now, CompletedAt = now, Conclusion = "success" }, CancellationToken.None).ConfigureAwait(false);
        }

        return Stopwatch.GetElapsedTime(start).TotalMilliseconds / jobs;
    }

    /// <summary>One Docker engine's create + start + remove of the runner image on a bridge network, one after another; null without an engine.</summary>
    private static async Task<double?> EngineMsPerRunnerAsync(int samples)
    {
        if (!File.Exists("/var/run/docker.sock"))
        {
            return null;
        }

        using var docker = new Docker.DotNet.DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).WithApiVersion(new System.Version(1, 41)).Build();
        var network = $"rf-bench-{Guid.NewGuid():N}"[..16];
        await docker.Networks.CreateNetworkAsync(new Docker.DotNet.Models.NetworksCreateParameters { Name = network, Driver = "bridge", Labels = new Dictionary<string, string> { ["runnerfleet.bench"] = "1" } }).ConfigureAwait(false);
        var times = new List<double>();
        try
        {
            for (var i = 0; i < samples + 2; i++)
            {
                var start = Stopwatch.GetTimestamp();
                var created = await docker.Containers.CreateContainerAsync(new Docker.DotNet.Models.CreateContainerParameters
                {
                    Image = "runnerfleet/sim-runner:latest", Entrypoint = ["/bin/true"], Labels = new Dictionary<string, string> { ["runnerfleet.bench"] = "1" },
                    HostConfig = new Docker.DotNet.Models.HostConfig { Init = true, NetworkMode = network },
                }).ConfigureAwait(false);
                await docker.Containers.StartContainerAsync(created.ID, new Docker.DotNet.Models.ContainerStartParameters()).ConfigureAwait(false);
                await docker.Containers.RemoveContainerAsync(created.ID, new Docker.DotNet.Models.ContainerRemoveParameters { Force = true }).ConfigureAwait(false);
                if (i >= 2)
                {
                    times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
        }
        finally
        {
            await docker.Networks.DeleteNetworkAsync(network).ConfigureAwait(false);
        }

        return Report.Percentile(times, 50);
    }
}
