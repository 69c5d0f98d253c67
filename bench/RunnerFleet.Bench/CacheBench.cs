using System.Diagnostics;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.DependencyInjection;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Bench;

/// <summary>
/// cache.json, on the real Docker engine: one "build" job run on a cold and then on a warm cache (it compiles each
/// of its object files only when the cache lacks it: 1 MiB of fresh random data through <c>gzip -9</c>, the CPU work a
/// compiler stands for, and its SHA-256, a hundred to a few hundred MiB in all; on a warm cache it checks each
/// object's SHA-256 and reuses it, as ccache hashes before it hits), the write-back that follows the cold run, and the
/// copy-on-write overhead on a runner's start for a job that uses no cache: webhook to the container's start event,
/// a pool with a cache next to the same pool without, samples interleaved.
/// </summary>
internal static class CacheBench
{
    private const string Image = "runnerfleet/sim-runner:latest";
    private const string CachePath = "/home/runner/.cache";

    public static async Task<BenchResult> RunAsync(bool quick, TextWriter progress)
    {
        var objects = quick ? 100 : 300;
        var samples = quick ? 12 : 30;
        using var docker = new DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).WithApiVersion(new System.Version(1, 41)).Build();
        var network = $"rf-bench-{Guid.NewGuid():N}"[..16];
        await docker.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = network, Driver = "bridge", Labels = new Dictionary<string, string> { ["runnerfleet.bench"] = "1" } }).ConfigureAwait(false);
        var gateway = (await docker.Networks.InspectNetworkAsync(network).ConfigureAwait(false)).IPAM.Config[0].Gateway;
        var cacheRoot = Directory.CreateTempSubdirectory("rf-bench-cache-").FullName;
        var starts = new ContainerStarts(docker);
        try
        {
            var settings = new Dictionary<string, string?>
            {
                ["GitHub:PollInterval"] = "00:00:00",
                ["Fleet:PlanInterval"] = "00:10:00",
                ["Fleet:ReapInterval"] = "00:00:01",
                ["Fleet:ReconcileInterval"] = "00:10:00",
                ["Fleet:CacheDirectory"] = cacheRoot,
            };
            Pool(settings, 0, "cached", network, cache: true);
            Pool(settings, 1, "plain", network, cache: false);
            await using var fleet = await BenchFleet.StartAsync(["bench/app"], settings, gateway: gateway).ConfigureAwait(false);

            // The build: compile what the cache lacks, reuse (read and check) what it has.
            var build = $"mkdir -p {CachePath}/obj; compiled=0; reused=0; i=0; while [ $i -lt {objects} ]; do i=$((i+1)); o={CachePath}/obj/$i.o; " +
                        "if [ -f $o ] && [ -f $o.sum ] && [ \"$(sha256sum < $o)\" = \"$(cat $o.sum)\" ]; then reused=$((reused+1)); " +
                        "else dd if=/dev/urandom bs=65536 count=16 2>/dev/null | gzip -9 > $o; sha256sum < $o > $o.sum; compiled=$((compiled+1)); fi; done; echo compiled=$compiled reused=$reused";
            var cold = await RunJobAsync(fleet, "cached", build).ConfigureAwait(false);
            progress.WriteLine($"    cold: {cold.Job.TotalSeconds:F2} s ({cold.Output}), write-back and teardown {cold.Teardown.TotalSeconds:F2} s");
            var warm = await RunJobAsync(fleet, "cached", build).ConfigureAwait(false);
            progress.WriteLine($"    warm: {warm.Job.TotalSeconds:F2} s ({warm.Output})");
            if (!cold.Output.Contains($"compiled={objects}", StringComparison.Ordinal) || !warm.Output.Contains($"reused={objects}", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"the warm run did not reuse the cold run's cache: cold '{cold.Output}', warm '{warm.Output}'");
            }

            // Start overhead of the copy-on-write mount, for a job that touches no cache: interleaved samples, 2 warm-ups each.
            var withCache = new List<double>();
            var without = new List<double>();
            for (var i = 0; i < samples + 2; i++)
            {
                foreach (var (pool, list) in new[] { ("cached", withCache), ("plain", without) })
                {
                    var t = await StartTimeAsync(fleet, pool, starts).ConfigureAwait(false);
                    if (i >= 2)
                    {
                        list.Add(t);
                    }
                }
            }

            await EconomyBench.WaitDoneAsync(fleet, TimeSpan.FromMinutes(3)).ConfigureAwait(false);

            // The controller's own part of that overhead: making a runner's layer over the (now full) cache, then discarding it.
            var caches = fleet.App.Services.GetRequiredService<RunnerFleet.Controller.Caching.RunnerCaches>();
            var cachedPool = fleet.App.Services.GetRequiredService<RunnerFleet.Controller.Configuration.PoolCatalog>().Find("cached")!;
            var prepare = new List<double>();
            for (var i = 0; i < 50; i++)
            {
                var record = new RunnerRecord { Id = $"p{i}", Name = $"bench-prepare-{i}", Pool = "cached", Provider = "docker", Scope = "bench/app", State = RunnerState.Failed, RequestedAt = DateTimeOffset.UtcNow };
                var t = Stopwatch.GetTimestamp();
                await caches.PrepareAsync(record, cachedPool, "bench/app", CancellationToken.None).ConfigureAwait(false);
                prepare.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                await caches.SettleAsync(record, CancellationToken.None).ConfigureAwait(false);
            }

            var (cached, plain) = (Report.Percentile(withCache, 50), Report.Percentile(without, 50));
            var overhead = Math.Max(0, (cached - plain) / plain * 100);
            progress.WriteLine($"    runner start: {cached:F1} ms with a cache, {plain:F1} ms without (median of {samples}): +{overhead:F1} %");
            return new BenchResult(new JsonObject
            {
                ["cache_cold_job_s"] = Math.Round(cold.Job.TotalSeconds, 2),
                ["cache_warm_job_s"] = Math.Round(warm.Job.TotalSeconds, 2),
                ["cache_warm_speedup"] = Math.Round(cold.Job.TotalSeconds / warm.Job.TotalSeconds, 2),
                ["cache_write_back_s"] = Math.Round(cold.Teardown.TotalSeconds, 2),
                ["cache_start_overhead_pct"] = Math.Round(overhead, 2),
                ["runner_start_ms_cached"] = Math.Round(cached, 1),
                ["runner_start_ms_plain"] = Math.Round(plain, 1),
                ["cache_prepare_ms_median"] = Math.Round(Report.Percentile(prepare, 50), 2),
            }, new JsonObject
            {
                ["objects"] = objects,
                ["object_bytes"] = 1024 * 1024,
                ["cache_mib"] = objects,
                ["job"] = "busybox sh: per object, reuse it when its SHA-256 matches, else compile it: 1 MiB from /dev/urandom through gzip -9, and its SHA-256",
                ["cold_output"] = cold.Output,
                ["warm_output"] = warm.Output,
                ["job_time"] = "the simulator's job start to completion (the runner's acquire and complete calls)",
                ["write_back"] = "the cold runner's completion to its record's Gone: container removal, trust check against GitHub, merge into a new generation, fsync",
                ["start"] = "webhook POST to the engine's container start event, median; with a cache: the layer made, the overlay volume mounted",
                ["samples"] = samples,
                ["pool_cpus"] = 1,
                ["target"] = "cache_start_overhead_pct ≤ 5",
            });
        }
        finally
        {
            await starts.DisposeAsync().ConfigureAwait(false);
            await docker.Networks.DeleteNetworkAsync(network).ConfigureAwait(false);
            Directory.Delete(cacheRoot, recursive: true);
        }
    }

    private static void Pool(Dictionary<string, string?> s, int i, string name, string network, bool cache)
    {
        var key = $"Fleet:Pools:{i}";
        s[$"{key}:Name"] = name;
        s[$"{key}:Labels:0"] = name;
        s[$"{key}:Provider"] = "docker";
        s[$"{key}:MaxRunners"] = "4";
        s[$"{key}:Docker:Image"] = Image;
        s[$"{key}:Docker:Network"] = network;
        s[$"{key}:Docker:Cpus"] = "1";
        s[$"{key}:Docker:MemoryMb"] = "256";
        if (cache)
        {
            s[$"{key}:Cache:Paths:0"] = CachePath;
        }
    }

    private static async Task<(TimeSpan Job, TimeSpan Teardown, string Output)> RunJobAsync(BenchFleet fleet, string pool, string script)
    {
        var job = fleet.GitHub.QueueJobs("bench/app", ["self-hosted", pool], 1, TimeSpan.Zero, script: script).Jobs[0];
        await fleet.PostQueuedAsync(job).ConfigureAwait(false);
        RunnerRecord? gone = null;
        var deadline = Stopwatch.GetTimestamp() + (600 * Stopwatch.Frequency);
        while (gone is null)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"job {job.Id} not done and torn down in 10 minutes ({job.Status})");
            }

            await Task.Delay(100).ConfigureAwait(false);
            gone = (await fleet.Store.ListRunnersAsync(1000, CancellationToken.None).ConfigureAwait(false)).FirstOrDefault(r => r.JobId == job.Id && r.State == RunnerState.Gone);
        }

        return (job.CompletedAt!.Value - job.StartedAt!.Value, gone.DestroyedAt!.Value - job.CompletedAt!.Value, job.Output?.Trim() ?? string.Empty);
    }

    private static async Task<double> StartTimeAsync(BenchFleet fleet, string pool, ContainerStarts starts)
    {
        var job = fleet.GitHub.QueueJobs("bench/app", ["self-hosted", pool], 1, TimeSpan.FromMilliseconds(100)).Jobs[0];
        var (t0, runner) = await fleet.PostQueuedAndAwaitRunnerAsync(job).ConfigureAwait(false);

        var elapsed = Stopwatch.GetElapsedTime(t0, await starts.WaitAsync(runner, TimeSpan.FromSeconds(60)).ConfigureAwait(false)).TotalMilliseconds;
        // One runner at a time: the next sample starts on a quiet engine.
        while ((await fleet.Store.ListRunnersAsync(1000, CancellationToken.None).ConfigureAwait(false)).Any(r => r.Name == runner && !RunnerStateMachine.IsFinal(r.State)))
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        return elapsed;
    }
}
