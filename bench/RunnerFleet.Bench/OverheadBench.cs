using System.Diagnostics;
using System.Text.Json.Nodes;

namespace RunnerFleet.Bench;

/// <summary>
/// overhead.json: from a <c>workflow_job queued</c> webhook arriving to the provider's create call, with 1,
/// 100 and 1000 jobs already queued (for a drained pool, so they weigh on every plan but take no runner).
/// The path: signature check, parse, store, plan signal, Quartz fire, plan, JIT config from the simulator
/// over HTTP, create call.
/// </summary>
internal static class OverheadBench
{
    private static readonly string[] s_served = ["self-hosted", "linux", "bench"];
    private static readonly string[] s_waiting = ["self-hosted", "linux", "waiting"];

    public static async Task<BenchResult> RunAsync(int samples)
    {
        var figures = new JsonObject();
        var details = new JsonObject();
        foreach (var queued in new[] { 1, 100, 1000 })
        {
            var provider = new RecordingProvider();
            await using var fleet = await BenchFleet.StartAsync(["bench/app"], new Dictionary<string, string?>
            {
                ["GitHub:PollInterval"] = "00:00:00",
                ["Fleet:PlanInterval"] = "00:10:00",
                ["Fleet:ReapInterval"] = "00:10:00",
                ["Fleet:ReconcileInterval"] = "00:10:00",
                ["Fleet:Pools:0:Name"] = "bench",
                ["Fleet:Pools:0:Labels:0"] = "linux",
                ["Fleet:Pools:0:Labels:1"] = "bench",
                ["Fleet:Pools:0:Provider"] = "inprocess",
                ["Fleet:Pools:0:MaxRunners"] = "100000",
                ["Fleet:Pools:1:Name"] = "waiting",
                ["Fleet:Pools:1:Labels:0"] = "linux",
                ["Fleet:Pools:1:Labels:1"] = "waiting",
                ["Fleet:Pools:1:Provider"] = "inprocess",
                ["Fleet:Pools:1:MaxRunners"] = "10",
            }, provider, webhooks: false).ConfigureAwait(false);
            await fleet.Store.SetPoolDrainedAsync("waiting", true, CancellationToken.None).ConfigureAwait(false);
            var backlog = fleet.GitHub.QueueJobs("bench/app", s_waiting, queued, TimeSpan.FromHours(1));
            foreach (var job in backlog.Jobs)
            {
                await fleet.PostQueuedAsync(job).ConfigureAwait(false);
            }

            var latencies = new List<double>();
            for (var i = 0; i < samples + 10; i++)
            {
                var job = fleet.GitHub.QueueJobs("bench/app", s_served, 1, TimeSpan.FromHours(1)).Jobs[0];
                provider.Arm();
                var created = provider.NextCreateAsync();
                var start = Stopwatch.GetTimestamp();
                await fleet.PostQueuedAsync(job).ConfigureAwait(false);
                var at = await created.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                if (i >= 10)
                {
                    // The first ten warm the JIT compiler and the connection pools.
                    latencies.Add(Stopwatch.GetElapsedTime(start, at).TotalMilliseconds);
                }
            }

            figures[$"p50_ms_at_{queued}"] = Report.Percentile(latencies, 50);
            figures[$"p99_ms_at_{queued}"] = Report.Percentile(latencies, 99);
            figures[$"max_ms_at_{queued}"] = Math.Round(latencies.Max(), 3);
            details[$"samples_at_{queued}"] = latencies.Count;
        }

        // A scale-set pool: from the job queued on GitHub (its message goes out on the listener's open long poll)
        // to the create call, through the ack, the ingest, the plan and the scale set's JIT config.
        var recording = new RecordingProvider();
        await using (var fleet = await BenchFleet.StartAsync(["bench/app"], new Dictionary<string, string?>
        {
            ["GitHub:PollInterval"] = "00:00:00",
            ["Fleet:PlanInterval"] = "00:10:00",
            ["Fleet:ReapInterval"] = "00:10:00",
            ["Fleet:ReconcileInterval"] = "00:10:00",
            ["Fleet:Pools:0:Name"] = "bench-set",
            ["Fleet:Pools:0:Labels:0"] = "bench-set",
            ["Fleet:Pools:0:Discovery"] = "ScaleSet",
            ["Fleet:Pools:0:Scope"] = "bench/app",
            ["Fleet:Pools:0:Provider"] = "inprocess",
            ["Fleet:Pools:0:MaxRunners"] = "100000",
        }, recording, webhooks: false).ConfigureAwait(false))
        {
            string[] runsOn = ["bench-set"];
            var viaScaleSet = new List<double>();
            for (var i = 0; i < samples + 10; i++)
            {
                recording.Arm();
                var created = recording.NextCreateAsync();
                var start = Stopwatch.GetTimestamp();
                fleet.GitHub.QueueJobs("bench/app", runsOn, 1, TimeSpan.FromHours(1));
                var at = await created.WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                if (i >= 10)
                {
                    viaScaleSet.Add(Stopwatch.GetElapsedTime(start, at).TotalMilliseconds);
                }
            }

            figures["scaleset_message_to_create_p50_ms"] = Report.Percentile(viaScaleSet, 50);
            figures["scaleset_message_to_create_p99_ms"] = Report.Percentile(viaScaleSet, 99);
        }

        details["target"] = "p99 under 20 ms at 1000 queued jobs";
        return new BenchResult(figures, details);
    }
}
