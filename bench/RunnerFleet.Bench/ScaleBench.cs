using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Providers;

namespace RunnerFleet.Bench;

/// <summary>
/// scale.json: one plan and one reconcile over 10,000 runner records (time and allocations), and the
/// controller's resident memory holding them. The plan is the pure planner over the records; the
/// reconcile is the controller's own, over its SQLite store and a provider listing 10,000 resources.
/// </summary>
internal static class ScaleBench
{
    private const int Records = 10_000;

    public static async Task RunAsync(string output)
    {
        var now = DateTimeOffset.UtcNow;
        var pools = Enumerable.Range(0, 10).Select(i => new PoolDefinition
        {
            Name = $"pool{i}", Labels = ["self-hosted", "linux", $"p{i}"], Provider = "inprocess", MaxRunners = 2000, MinIdle = 5, DefaultScope = "bench/r0",
        }).ToList();
        var states = new[] { RunnerState.Busy, RunnerState.Busy, RunnerState.Busy, RunnerState.Idle, RunnerState.Provisioning, RunnerState.Requested };
        var runners = Enumerable.Range(0, Records).Select(i => new RunnerRecord
        {
            Id = Guid.NewGuid().ToString("N"),
            Name = $"bench-pool{i % 10}-{i:x8}",
            Pool = $"pool{i % 10}",
            Provider = "inprocess",
            Scope = $"bench/r{i % 25}",
            State = states[i % states.Length],
            RequestedAt = now.AddMinutes(-(i % 30)),
            CreatedAt = now.AddMinutes(-(i % 30)),
            OnlineAt = i % 6 < 4 ? now.AddMinutes(-(i % 20)) : null,
            BusyAt = i % 6 < 3 ? now.AddMinutes(-(i % 10)) : null,
            JobId = i % 6 < 3 ? i : null,
        }).ToList();
        var queued = Enumerable.Range(0, 2000).Select(i => new JobRecord
        {
            Id = 1_000_000 + i, Repository = $"bench/r{i % 25}", Labels = ["self-hosted", "linux", $"p{i % 10}"], Status = JobStatus.Queued, Pool = $"pool{i % 10}", Scope = $"bench/r{i % 25}", QueuedAt = now.AddSeconds(-i),
        }).ToList();

        for (var i = 0; i < 5; i++)
        {
            ScalePlanner.Plan(pools, runners, queued, now);
        }

        var planTimes = new List<double>();
        long planAllocated = 0;
        for (var i = 0; i < 20; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var start = Stopwatch.GetTimestamp();
            ScalePlanner.Plan(pools, runners, queued, now);
            planTimes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            planAllocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        // The controller's reconcile: its store holds 10,000 live records, its provider lists 10,000 resources.
        var provider = new RecordingProvider();
        await using var fleet = await BenchFleet.StartAsync(["bench/r0"], new Dictionary<string, string?>
        {
            ["GitHub:PollInterval"] = "00:00:00",
            ["Fleet:PlanInterval"] = "01:00:00",
            ["Fleet:ReapInterval"] = "01:00:00",
            ["Fleet:ReconcileInterval"] = "01:00:00",
            ["Fleet:Pools:0:Name"] = "pool0",
            ["Fleet:Pools:0:Labels:0"] = "linux",
            ["Fleet:Pools:0:Provider"] = "inprocess",
            ["Fleet:Pools:0:MaxRunners"] = "20000",
        }, provider, webhooks: false).ConfigureAwait(false);
        var pool0 = pools[0] with { Name = "pool0" };
        foreach (var r in runners)
        {
            await fleet.Store.InsertRunnerAsync(r with { Name = "bench-" + r.Name[6..] }, CancellationToken.None).ConfigureAwait(false);
            await provider.CreateAsync(new RunnerLaunch { Fleet = "bench", Name = "bench-" + r.Name[6..], Pool = pool0 }, CancellationToken.None).ConfigureAwait(false);
        }

        var reconciler = fleet.App.Services.GetRequiredService<Reconciler>();
        await reconciler.ReconcileAsync(CancellationToken.None).ConfigureAwait(false);
        var reconcileTimes = new List<double>();
        long reconcileAllocated = 0;
        for (var i = 0; i < 5; i++)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var start = Stopwatch.GetTimestamp();
            var result = await reconciler.ReconcileAsync(CancellationToken.None).ConfigureAwait(false);
            reconcileTimes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            reconcileAllocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            if (result.OrphanResources != 0)
            {
                throw new InvalidOperationException($"the reconcile found {result.OrphanResources} orphans among its own records");
            }
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        var rss = self.WorkingSet64 / (1024.0 * 1024);

        await Report.WriteAsync(output, "scale", new JsonObject
        {
            ["plan_ms_10k"] = Report.Percentile(planTimes, 50),
            ["reconcile_ms_10k"] = Report.Percentile(reconcileTimes, 50),
            ["rss_mb_10k"] = Math.Round(rss, 1),
            ["plan_allocated_mb_10k"] = Math.Round(planAllocated / (1024.0 * 1024), 2),
            ["reconcile_allocated_mb_10k"] = Math.Round(reconcileAllocated / (1024.0 * 1024), 2),
        }, new JsonObject
        {
            ["records"] = Records,
            ["queued_jobs"] = queued.Count,
            ["pools"] = pools.Count,
            ["plan_ms_max"] = Math.Round(planTimes.Max(), 3),
            ["reconcile_ms_max"] = Math.Round(reconcileTimes.Max(), 3),
            ["rss_note"] = "resident memory of this process, which hosts the controller (with 10,000 records in its store and provider) and the GitHub simulator",
            ["reconcile_note"] = "store × provider inventory of 10,000; the GitHub runner lists of the fleet's scopes are empty",
            ["targets"] = "plan and reconcile under 200 ms, under 200 MB resident",
        }).ConfigureAwait(false);
    }
}
