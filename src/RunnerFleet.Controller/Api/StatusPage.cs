using System.Globalization;
using System.Net;
using System.Text;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Api;

/// <summary>
/// The status page at <c>/</c>: server-rendered HTML that refreshes itself, no front-end build. Pools with
/// runners by state, queued jobs, cost today and why a pool is not provisioning; recent runners; recent
/// failures with reasons; GitHub rate limit left. Readable on a phone.
/// </summary>
internal static class StatusPage
{
    public static IEndpointRouteBuilder MapStatusPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", async (IFleetStore store, PoolCatalog pools, PoolAvailability availability, FleetTelemetry telemetry, Caching.RunnerCaches caches, TimeProvider time, CancellationToken ct) =>
        {
            var now = time.GetUtcNow();
            var drained = await store.ListDrainedPoolsAsync(ct).ConfigureAwait(false);
            var runners = await store.ListRunnersAsync(200, ct).ConfigureAwait(false);
            var active = await store.ListActiveRunnersAsync(ct).ConfigureAwait(false);
            var queued = await store.ListJobsAsync(JobStatus.Queued, 10_000, ct).ConfigureAwait(false);
            var cost = await store.CostTodayAsync(active, now, ct).ConfigureAwait(false);
            var perJob = await store.CostPerJobTodayAsync(cost, now, ct).ConfigureAwait(false);
            var html = new StringBuilder();
            string E(object? v) => WebUtility.HtmlEncode(Convert.ToString(v, CultureInfo.InvariantCulture) ?? string.Empty);
            string Ago(DateTimeOffset? t) => t is { } v ? $"{(now - v).TotalSeconds:F0} s ago" : "—";

            html.Append($$"""
                <!doctype html>
                <html lang="en"><head><meta charset="utf-8">
                <meta name="viewport" content="width=device-width, initial-scale=1">
                <meta http-equiv="refresh" content="5">
                <title>RunnerFleet {{E(pools.FleetName)}}</title>
                <style>
                  body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 12px; color: #1b1f24; }
                  h1 { font-size: 1.3em; margin: 0 0 4px; } h2 { font-size: 1.05em; margin: 18px 0 6px; }
                  .muted { color: #57606a; } .card { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px; margin: 8px 0; overflow-x: auto; }
                  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
                  .s { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: .85em; background: #eaeef2; }
                  .Busy { background: #ddf4ff; } .Idle { background: #dafbe1; } .Failed { background: #ffebe9; } .Gone { background: #f6f8fa; color: #57606a; }
                  .Provisioning, .Requested { background: #fff8c5; } .warn { color: #9a6700; }
                  @media (max-width: 640px) { .w { display: none; } body { font-size: 14px; padding: 8px; } th, td { padding: 4px 5px; } td:first-child { white-space: normal; } }
                </style></head><body>
                <h1>RunnerFleet <span class="muted">{{E(pools.FleetName)}}</span></h1>
                <div class="muted">{{E(now.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture))}} · GitHub rate limit left: <b id="ratelimit">{{E(telemetry.RateLimitRemainingOf("core")?.ToString(CultureInfo.InvariantCulture) ?? "—")}}</b> · refreshes every 5 s</div>
                <h2>Pools</h2><div class="card"><table id="pools">
                <tr><th>pool</th><th class="w">provider</th><th class="w">labels</th><th class="w">requested</th><th class="w">provisioning</th><th>idle</th><th>busy</th><th>queued</th><th class="w">max</th><th>€ today</th><th class="w">€ per job</th><th>status</th></tr>
                """);
            foreach (var p in pools.Pools)
            {
                int N(RunnerState s) => active.Count(r => r.Pool == p.Name && r.State == s);
                var status = drained.Contains(p.Name) ? "drained" : availability.ReasonOf(p.Name, now) is { } why ? $"unavailable: {why}" : "ok";
                html.Append(CultureInfo.InvariantCulture, $"<tr><td><b>{E(p.Name)}</b></td><td class=\"w\">{E(p.Provider)}</td><td class=\"w\">{E(string.Join(", ", p.Labels))}</td><td class=\"w\">{N(RunnerState.Requested)}</td><td class=\"w\">{N(RunnerState.Provisioning)}</td><td>{N(RunnerState.Idle)}</td><td>{N(RunnerState.Busy)}</td><td>{queued.Count(j => j.Pool == p.Name)}</td><td class=\"w\">{p.MaxRunners}</td><td>{cost.GetValueOrDefault(p.Name):0.00##}</td><td class=\"w\">{(perJob.TryGetValue(p.Name, out var pj) ? pj.ToString("0.00##", CultureInfo.InvariantCulture) : "—")}</td><td class=\"{(status == "ok" ? string.Empty : "warn")}\">{E(status)}</td></tr>");
            }

            var unserved = queued.Count(j => j.Pool is null && j.Refusal is null);
            var refused = queued.Count(j => j.Refusal is not null);
            html.Append(CultureInfo.InvariantCulture, $"</table>{(unserved > 0 ? $"<div class=\"warn\">{unserved} queued jobs have labels no pool serves.</div>" : string.Empty)}");
            html.Append(CultureInfo.InvariantCulture, $"{(refused > 0 ? $"<div class=\"warn\">{refused} queued jobs refused by policy (fork pull requests); see /api/jobs.</div>" : string.Empty)}</div>");

            if (caches.Stats() is { Count: > 0 } cacheStats)
            {
                html.Append("<h2>Warm caches</h2><div class=\"card\"><table id=\"caches\"><tr><th>pool</th><th class=\"w\">scope</th><th>size</th><th class=\"w\">scopes</th><th>hits</th><th>write-backs</th><th>discards</th></tr>");
                foreach (var (pool, c) in cacheStats)
                {
                    html.Append(CultureInfo.InvariantCulture, $"<tr><td><b>{E(pool)}</b></td><td class=\"w\">{E(c.Scope)}</td><td>{c.SizeBytes / 1048576.0:0.#} of {c.MaxSizeBytes / 1048576} MB</td><td class=\"w\">{c.Scopes}</td><td>{c.Hits}</td><td>{c.WriteBacks}</td><td>{c.Discards}</td></tr>");
                }

                html.Append("</table><div class=\"muted\">Hits, write-backs and discards since the controller started. Only trusted jobs write back (README, \"Warm caches\").</div></div>");
            }

            html.Append("<h2>Recent runners</h2><div class=\"card\"><table id=\"runners\"><tr><th>runner</th><th class=\"w\">pool</th><th>state</th><th>job</th><th class=\"w\">requested</th><th class=\"w\">where</th></tr>");
            foreach (var r in runners.Take(30))
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(r.Name)}</td><td class=\"w\">{E(r.Pool)}</td><td><span class=\"s {r.State}\">{r.State}</span></td><td>{E(r.JobId)}</td><td class=\"w\">{E(Ago(r.RequestedAt))}</td><td class=\"w\">{E(r.ProviderEndpoint)}</td></tr>");
            }

            html.Append("</table></div><h2>Recent failures</h2><div class=\"card\"><table id=\"failures\"><tr><th>runner</th><th>pool</th><th>when</th><th>reason</th></tr>");
            foreach (var r in runners.Where(r => r.State == RunnerState.Failed).Take(10))
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(r.Name)}</td><td>{E(r.Pool)}</td><td>{E(Ago(r.RequestedAt))}</td><td style=\"white-space:normal\">{E(r.FailureReason)}</td></tr>");
            }

            html.Append("</table></div><p class=\"muted\">JSON: <a href=\"/api/runners\">/api/runners</a> · <a href=\"/api/jobs\">/api/jobs</a> · <a href=\"/api/pools\">/api/pools</a></p></body></html>");
            return Results.Content(html.ToString(), "text/html; charset=utf-8");
        });

        return app;
    }
}
