using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Bench;

/// <summary>
/// scale.json, the controller's own ticks at 10,000 runners, as the service runs them:
/// <list type="bullet">
/// <item>a full plan tick: <see cref="PlanExecutor.RunAsync"/>, its store reads included (10,000 live records, 2,000
/// queued jobs, 10 pools at capacity, so the tick decides and does nothing);</item>
/// <item>a full reconcile: store × a provider inventory of 10,000 × GitHub's runner list holding the same 10,000
/// runners (100 pages of 100, read over HTTP from the simulator), nothing to clean;</item>
/// <item>the peak resident memory of the process (Server GC, as the service ships), which also holds the GitHub
/// simulator with its 10,000 runners: an upper bound of the controller's own.</item>
/// </list>
/// </summary>
internal static class ScaleBench
{
    private const int Records = 10_000;
    private const int Pools = 10;
    private const int Churn = 50;

    public static async Task<BenchResult> RunAsync(bool quick)
    {
        var provider = new RecordingProvider();
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:PollInterval"] = "00:00:00",
            ["Fleet:PlanInterval"] = "01:00:00",
            ["Fleet:ReapInterval"] = "01:00:00",
            ["Fleet:ReconcileInterval"] = "01:00:00",
            ["Fleet:MaxRunners"] = "20000",
        };
        for (var p = 0; p < Pools; p++)
        {
            settings[$"Fleet:Pools:{p}:Name"] = $"pool{p}";
            settings[$"Fleet:Pools:{p}:Labels:0"] = "linux";
            settings[$"Fleet:Pools:{p}:Labels:1"] = $"p{p}";
            settings[$"Fleet:Pools:{p}:Provider"] = "inprocess";
            settings[$"Fleet:Pools:{p}:MaxRunners"] = (Records / Pools).ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings[$"Fleet:Pools:{p}:MinIdle"] = "5";
        }

        // Each run's own peak: what earlier runs in this process left is collected and the kernel's peak (VmHWM)
        // reset (clear_refs 5, Linux 4.0+), so the median of 3 runs is not the first run's garbage.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Report.ResetPeakRss();
        const string scope = "bench/r0";
        await using var fleet = await BenchFleet.StartAsync([scope], settings, provider, webhooks: false).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        var states = new[] { RunnerState.Busy, RunnerState.Busy, RunnerState.Busy, RunnerState.Idle, RunnerState.Provisioning, RunnerState.Busy };
        var catalog = fleet.App.Services.GetRequiredService<PoolCatalog>();
        string[] ghLabels = ["self-hosted", "linux"];
        for (var i = 0; i < Records; i++)
        {
            var pool = catalog.Find($"pool{i % Pools}")!;
            var name = $"bench-pool{i % Pools}-{i:x8}";
            var state = states[i % states.Length];
            await fleet.Store.InsertRunnerAsync(new RunnerRecord
            {
                Id = Guid.NewGuid().ToString("N"),
                Name = name,
                Pool = pool.Name,
                Provider = "inprocess",
                Scope = scope,
                State = state,
                // Recent, so no tick retires them (boot timeout, job duration): the pools stay at capacity.
                RequestedAt = now.AddSeconds(-(i % 60)),
                CreatedAt = now.AddSeconds(-(i % 60)),
                OnlineAt = state is RunnerState.Busy or RunnerState.Idle ? now.AddSeconds(-(i % 50)) : null,
                BusyAt = state == RunnerState.Busy ? now.AddSeconds(-(i % 40)) : null,
                JobId = state == RunnerState.Busy ? i : null,
            }, CancellationToken.None).ConfigureAwait(false);
            await provider.CreateAsync(new RunnerLaunch { Fleet = "bench", Name = name, Pool = pool }, CancellationToken.None).ConfigureAwait(false);
            fleet.GitHub.RegisterJitRunner(scope, name, 1, ghLabels);
        }

        for (var i = 0; i < 2000; i++)
        {
            await fleet.Store.UpsertJobAsync(new JobRecord
            {
                Id = 1_000_000 + i, RunId = 2_000_000 + i, Repository = scope, Labels = ["self-hosted", "linux", $"p{i % Pools}"], Status = JobStatus.Queued,
                Pool = $"pool{i % Pools}", Scope = scope, QueuedAt = now.AddSeconds(-i),
            }, CancellationToken.None).ConfigureAwait(false);
        }

        // A fleet that has run a while: its records were written before the last read of changes reaches back
        // (ActiveRunnerView.Overlap), and between ticks some change (Churn a tick, as ~3,000 jobs/h would).
        await Task.Delay(ActiveRunnerView.Overlap + TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        var live = await fleet.Store.ListActiveRunnersAsync(CancellationToken.None).ConfigureAwait(false);
        var touched = 0;

        // The plan tick, as the Quartz job runs it.
        var executor = fleet.App.Services.GetRequiredService<PlanExecutor>();
        // Enough ticks first for the tiered JIT to reach its optimized code, as in a service that has run a while.
        var warmups = 10;
        var ticks = quick ? 5 : 15;
        var planTimes = new List<double>();
        long planAllocated = 0;
        // (The loops' own first tick at start may have provisioned a few while the records went in: they are listed too.)
        var inventory = provider.Count;
        var provisioned = 0;
        var retired = 0;
        for (var i = 0; i < warmups + ticks; i++)
        {
            for (var c = 0; c < Churn; c++)
            {
                await fleet.Store.UpdateRunnerAsync(live[touched++ % live.Count], CancellationToken.None).ConfigureAwait(false);
            }

            var before = GC.GetTotalAllocatedBytes(precise: true);
            var start = Stopwatch.GetTimestamp();
            var plan = await executor.RunAsync(CancellationToken.None).ConfigureAwait(false);
            provisioned += plan.TotalToProvision;
            retired += plan.Retirements.Count;
            var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (i >= warmups)
            {
                planTimes.Add(elapsed);
                planAllocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            }
        }

        // Where a tick's time goes: its two big reads alone.
        var runnersRead = new List<double>();
        var jobsRead = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var t = Stopwatch.GetTimestamp();
            await fleet.Store.ListActiveRunnersAsync(CancellationToken.None).ConfigureAwait(false);
            runnersRead.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            t = Stopwatch.GetTimestamp();
            await fleet.Store.ListJobsAsync(JobStatus.Queued, 10_000, CancellationToken.None).ConfigureAwait(false);
            jobsRead.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        if (provisioned != 0 || retired != 0 || provider.Count != inventory)
        {
            throw new InvalidOperationException($"the plan ticks were to find the pools at capacity, but they provisioned {provisioned} and retired {retired}; the provider holds {provider.Count}, not {inventory}");
        }

        // The reconcile: store × provider × GitHub's 100 pages.
        var reconciler = fleet.App.Services.GetRequiredService<Reconciler>();
        var onGitHub = fleet.GitHub.Runners(scope).Count;
        var pagesBefore = fleet.GitHub.ApiRequests;
        await reconciler.ReconcileAsync(CancellationToken.None).ConfigureAwait(false);
        var pages = fleet.GitHub.ApiRequests - pagesBefore;
        var reconcileTimes = new List<double>();
        long reconcileAllocated = 0;
        for (var i = 0; i < (quick ? 3 : 5); i++)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var start = Stopwatch.GetTimestamp();
            var result = await reconciler.ReconcileAsync(CancellationToken.None).ConfigureAwait(false);
            reconcileTimes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            reconcileAllocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            if (result.OrphanResources != 0 || result.GhostRunners != 0)
            {
                throw new InvalidOperationException($"the reconcile found {result.OrphanResources} orphans and {result.GhostRunners} ghosts among its own runners");
            }
        }

        if (fleet.GitHub.Runners(scope).Count != onGitHub)
        {
            throw new InvalidOperationException("the reconcile deleted GitHub runners it owns");
        }

        return new BenchResult(new JsonObject
        {
            ["plan_tick_ms_10k"] = Report.Percentile(planTimes, 50),
            ["reconcile_ms_10k_full"] = Report.Percentile(reconcileTimes, 50),
            ["peak_rss_mb"] = Report.PeakRssMb(),
            ["plan_tick_allocated_mb_10k"] = Math.Round(planAllocated / (1024.0 * 1024), 2),
            ["reconcile_allocated_mb_10k"] = Math.Round(reconcileAllocated / (1024.0 * 1024), 2),
        }, new JsonObject
        {
            ["records"] = Records,
            ["queued_jobs"] = 2000,
            ["pools"] = Pools,
            ["github_pages_per_reconcile"] = pages,
            ["plan_tick_ms"] = Report.Array(planTimes),
            ["store_read_active_runners_ms"] = Report.Percentile(runnersRead, 50),
            ["store_read_queued_jobs_ms"] = Report.Percentile(jobsRead, 50),
            ["reconcile_ms"] = Report.Array(reconcileTimes),
            ["plan_note"] = "PlanExecutor.RunAsync: the live runners (its in-memory view: the records changed since the last read, 50 a tick here, and all of them once a minute), unattributed runners, queued jobs, drained pools and targets, the planner, gauges; pools at capacity, so nothing is provisioned or retired; median of the ticks after 10 warm-up ticks",
            ["plan_tick_ms_max"] = Math.Round(planTimes.Max(), 3),
            ["reconcile_note"] = "store × provider inventory (10,000) × GitHub's runner list of the scope (10,000 runners, 100 pages over loopback HTTP, no injected latency); nothing to clean",
            ["rss_note"] = "peak resident set (VmHWM) of the bench process, which hosts the controller and the GitHub simulator with its 10,000 runners; Server GC",
            ["targets"] = "plan tick ≤ 50 ms, reconcile ≤ 2 s, peak RSS ≤ 300 MB",
        });
    }
}
