using System.Collections.Immutable;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace RunnerFleet.AppHost;

/// <summary>
/// Keeps the dashboard's view of the fleet: the fleet's state (Running, Degraded, Unreachable, or why the
/// controller stopped: its first configuration error), its properties (runners by state, queued jobs, cost,
/// a line per pool), and one row per live runner under it, from the controller's read API every 2 s.
/// </summary>
internal sealed class FleetWatcher(
    FleetResource fleet, FleetRunnersResource runners, IResource controller, ResourceNotificationService notifications, ResourceLoggerService logs, ILogger logger)
{
    private static readonly TimeSpan s_refresh = TimeSpan.FromSeconds(2);
    private readonly HashSet<string> _shown = new(StringComparer.Ordinal);
    private string? _configurationError;

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            var errors = Task.Run(() => WatchControllerLogsAsync(ct), ct);
            var stopped = Task.Run(() => WatchControllerStateAsync(ct), ct);
            await notifications.WaitForResourceHealthyAsync(controller.Name, WaitBehavior.StopOnResourceUnavailable, ct).ConfigureAwait(false);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            while (!ct.IsCancellationRequested && !stopped.IsCompleted)
            {
                await RefreshAsync(http, ct).ConfigureAwait(false);
                await Task.Delay(s_refresh, ct).ConfigureAwait(false);
            }

            await stopped.ConfigureAwait(false);
            await errors.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The AppHost is stopping.
        }
        catch (DistributedApplicationException e)
        {
            // The controller never became healthy (it stopped first): its state watcher says why.
            logger.LogWarning("The controller did not start: {Error}", e.Message);
        }
    }

    /// <summary>The controller's configuration errors, as it prints them before it exits with code 2.</summary>
    private async Task WatchControllerLogsAsync(CancellationToken ct)
    {
        // "RunnerFleet cannot start: the configuration is invalid." then "  - <key> …" lines (a timestamp may lead each line).
        var refused = false;
        await foreach (var batch in logs.WatchAsync(controller).WithCancellation(ct).ConfigureAwait(false))
        {
            foreach (var line in batch)
            {
                if (line.Content.Contains("RunnerFleet cannot start", StringComparison.Ordinal))
                {
                    refused = true;
                }
                else if (refused && _configurationError is null && line.Content.IndexOf("  - ", StringComparison.Ordinal) is >= 0 and var at)
                {
                    _configurationError = line.Content[(at + 4)..].Trim();
                }
            }
        }
    }

    /// <summary>When the controller stops on its own, the fleet says why: code 2 is a configuration error, shown with the first one.</summary>
    private async Task WatchControllerStateAsync(CancellationToken ct)
    {
        var stopped = await notifications.WaitForResourceAsync(controller.Name,
            e => e.Snapshot.State?.Text is { } s && KnownResourceStates.TerminalStates.Contains(s), ct).ConfigureAwait(false);
        var code = stopped.Snapshot.ExitCode;
        // The log lines may trail the exit by a moment.
        for (var i = 0; i < 20 && _configurationError is null && code == 2; i++)
        {
            await Task.Delay(100, ct).ConfigureAwait(false);
        }

        var (state, reason) = code == 2
            ? ("Configuration error", _configurationError ?? "the controller refused its configuration (exit code 2); see its console log")
            : ("Stopped", $"the controller stopped (exit code {code?.ToString(CultureInfo.InvariantCulture) ?? "?"})");
        await notifications.PublishUpdateAsync(fleet, s => s with
        {
            State = new ResourceStateSnapshot(state, KnownResourceStateStyles.Error),
            Properties = s.Properties.RemoveAll(p => p.Name == "error").Add(new ResourcePropertySnapshot("error", reason)),
        }).ConfigureAwait(false);
        await HideRunnersAsync(_shown.ToList()).ConfigureAwait(false);
    }

    private async Task RefreshAsync(HttpClient http, CancellationToken ct)
    {
        var api = new Uri(fleet.ControllerEndpoint.Url);
        try
        {
            var pools = await http.GetFromJsonAsync<JsonElement>(new Uri(api, "/api/pools"), ct).ConfigureAwait(false);
            var live = await http.GetFromJsonAsync<JsonElement>(new Uri(api, "/api/runners?limit=1000"), ct).ConfigureAwait(false);
            var (properties, degraded) = Describe(pools);
            await notifications.PublishUpdateAsync(fleet, s => s with
            {
                State = degraded ? new ResourceStateSnapshot("Degraded", KnownResourceStateStyles.Warn) : new ResourceStateSnapshot(KnownResourceStates.Running, KnownResourceStateStyles.Success),
                Properties = properties,
            }).ConfigureAwait(false);
            await PublishRunnersAsync(live).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            logger.LogWarning("The controller's API did not answer: {Error}", e.Message);
            await notifications.PublishUpdateAsync(fleet, s => s with { State = new ResourceStateSnapshot("Unreachable", KnownResourceStateStyles.Error) }).ConfigureAwait(false);
        }
    }

    /// <summary>A row per live runner (name, pool, provider, state, job, where it runs, cost); a runner that is gone is hidden.</summary>
    private async Task PublishRunnersAsync(JsonElement all)
    {
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in all.EnumerateArray())
        {
            var state = r.GetProperty("state").GetString() ?? "?";
            if (state is "Gone" or "Failed")
            {
                continue;
            }

            var name = r.GetProperty("name").GetString()!;
            live.Add(name);
            _shown.Add(name);
            ImmutableArray<ResourcePropertySnapshot> properties =
            [
                // The dashboard nests a row under the resource this property names.
                new("resource.parentName", fleet.Name),
                new("runner.pool", r.GetProperty("pool").GetString()),
                new("runner.provider", r.GetProperty("provider").GetString()),
                new("runner.state", state),
                new("runner.job", r.GetProperty("jobId").ValueKind == JsonValueKind.Number ? r.GetProperty("jobId").GetInt64() : null),
                new("runner.where", $"{Text(r, "providerEndpoint")} {Text(r, "providerResourceId")}".Trim()),
                new("runner.scope", Text(r, "scope")),
                new("runner.cost", r.GetProperty("cost").GetDecimal().ToString("0.00## EUR", CultureInfo.InvariantCulture)),
            ];
            await notifications.PublishUpdateAsync(runners, name, s => s with
            {
                ResourceType = "Runner",
                IsHidden = false,
                State = new ResourceStateSnapshot(state, state is "Busy" or "Idle" ? KnownResourceStateStyles.Success : KnownResourceStateStyles.Info),
                Properties = properties,
            }).ConfigureAwait(false);
        }

        await HideRunnersAsync([.. _shown.Where(n => !live.Contains(n))]).ConfigureAwait(false);
    }

    private async Task HideRunnersAsync(IReadOnlyList<string> names)
    {
        foreach (var name in names)
        {
            _shown.Remove(name);
            await notifications.PublishUpdateAsync(runners, name, s => s with
            {
                IsHidden = true,
                State = new ResourceStateSnapshot(KnownResourceStates.Finished, KnownResourceStateStyles.Info),
            }).ConfigureAwait(false);
        }
    }

    private static string? Text(JsonElement e, string property) =>
        e.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static (ImmutableArray<ResourcePropertySnapshot> Properties, bool Degraded) Describe(JsonElement pools)
    {
        var properties = ImmutableArray.CreateBuilder<ResourcePropertySnapshot>();
        int idle = 0, busy = 0, starting = 0, queued = 0;
        var cost = 0m;
        var degraded = false;
        foreach (var pool in pools.EnumerateArray())
        {
            var runners = pool.GetProperty("runners");
            int Count(string state) => runners.TryGetProperty(state, out var n) ? n.GetInt32() : 0;
            var (poolIdle, poolBusy, poolStarting) = (Count("Idle"), Count("Busy"), Count("Requested") + Count("Provisioning"));
            var poolQueued = pool.GetProperty("queuedJobs").GetInt32();
            var unavailable = pool.TryGetProperty("unavailable", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
            var drained = pool.GetProperty("drained").GetBoolean();
            (idle, busy, starting, queued) = (idle + poolIdle, busy + poolBusy, starting + poolStarting, queued + poolQueued);
            cost += pool.GetProperty("costToday").GetDecimal();
            degraded |= unavailable is not null;
            var status = drained ? "drained" : unavailable is not null ? $"unavailable: {unavailable}" : "ok";
            properties.Add(new ResourcePropertySnapshot($"pool.{pool.GetProperty("name").GetString()}",
                $"{poolStarting} starting, {poolIdle} idle, {poolBusy} busy, {poolQueued} queued, max {pool.GetProperty("maxRunners").GetInt32()} ({status})"));
        }

        properties.Insert(0, new ResourcePropertySnapshot("runners.starting", starting));
        properties.Insert(1, new ResourcePropertySnapshot("runners.idle", idle));
        properties.Insert(2, new ResourcePropertySnapshot("runners.busy", busy));
        properties.Insert(3, new ResourcePropertySnapshot("jobs.queued", queued));
        properties.Insert(4, new ResourcePropertySnapshot("cost.today", cost.ToString("0.00## EUR", CultureInfo.InvariantCulture)));
        return (properties.ToImmutable(), degraded);
    }
}
