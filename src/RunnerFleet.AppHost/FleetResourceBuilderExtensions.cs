using System.Collections.Immutable;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RunnerFleet.AppHost;

// Shares the Aspire.Hosting namespace so the extension is visible from AppHost.cs, as Aspire's own integrations do.
namespace Aspire.Hosting;

/// <summary>Adds the <see cref="FleetResource"/> to the app model.</summary>
public static class FleetResourceBuilderExtensions
{
    private static readonly TimeSpan s_refresh = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Adds a fleet resource under <paramref name="controller"/>: live state and properties from its API,
    /// and the commands "Reconcile now" and, per pool in <paramref name="pools"/>, "Drain" and "Resume".
    /// </summary>
    public static IResourceBuilder<FleetResource> AddRunnerFleet(
        this IDistributedApplicationBuilder builder,
        [ResourceName] string name,
        IResourceBuilder<ProjectResource> controller,
        IResourceBuilder<ParameterResource> adminToken,
        IReadOnlyList<string> pools)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(adminToken);

        var fleet = new FleetResource(name, controller.GetEndpoint("http"), adminToken.Resource);
        var resource = builder.AddResource(fleet)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "RunnerFleet",
                State = KnownResourceStates.Waiting,
                Properties = [],
            })
            .WithParentRelationship(controller.Resource)
            .WithIconName("Server")
            .ExcludeFromManifest()
            .OnInitializeResource((r, e, _) =>
            {
                // The refresh loop lives as long as the AppHost; initialization itself returns at once.
                var stopping = e.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
                _ = Task.Run(() => WatchAsync(r, controller.Resource.Name, e.Notifications, e.Logger, stopping), stopping);
                return Task.CompletedTask;
            });

        resource.WithCommand("reconcile", "Reconcile now",
            context => AdminAsync(fleet, HttpMethod.Post, "/api/reconcile", context.CancellationToken),
            new CommandOptions
            {
                Description = "Compare the fleet's records with Docker, Hetzner and GitHub now and clean up what no record owns.",
                IconName = "ArrowSync",
                IsHighlighted = true,
                UpdateState = WhenRunning,
            });

        foreach (var pool in pools)
        {
            resource.WithCommand($"drain-{pool}", $"Drain pool {pool}",
                context => AdminAsync(fleet, HttpMethod.Post, $"/api/pools/{Uri.EscapeDataString(pool)}/drain", context.CancellationToken),
                new CommandOptions
                {
                    Description = $"No new runners for {pool}; busy runners finish their jobs.",
                    ConfirmationMessage = $"Stop making runners for pool {pool}?",
                    IconName = "Pause",
                    UpdateState = WhenRunning,
                });
            resource.WithCommand($"resume-{pool}", $"Resume pool {pool}",
                context => AdminAsync(fleet, HttpMethod.Post, $"/api/pools/{Uri.EscapeDataString(pool)}/resume", context.CancellationToken),
                new CommandOptions { Description = $"Let {pool} make runners again.", IconName = "Play", UpdateState = WhenRunning });
        }

        return resource;
    }

    private static ResourceCommandState WhenRunning(UpdateCommandStateContext context) =>
        context.ResourceSnapshot.State?.Text is { } state && (state == KnownResourceStates.Running || state == "Degraded")
            ? ResourceCommandState.Enabled
            : ResourceCommandState.Disabled;

    private static async Task<ExecuteCommandResult> AdminAsync(FleetResource fleet, HttpMethod method, string path, CancellationToken ct)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(method, new Uri(new Uri(fleet.ControllerEndpoint.Url), path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await fleet.AdminToken.GetValueAsync(ct).ConfigureAwait(false));
        try
        {
            using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
            return response.IsSuccessStatusCode
                ? CommandResults.Success()
                : CommandResults.Failure($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)}");
        }
        catch (HttpRequestException e)
        {
            return CommandResults.Failure($"the controller did not answer: {e.Message}");
        }
    }

    /// <summary>Publishes the fleet's state every few seconds: Running, Degraded (a pool cannot provision) or Unreachable.</summary>
    private static async Task WatchAsync(FleetResource fleet, string controllerName, ResourceNotificationService notifications, ILogger logger, CancellationToken ct)
    {
        try
        {
            await notifications.WaitForResourceHealthyAsync(controllerName, ct).ConfigureAwait(false);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    var pools = await http.GetFromJsonAsync<JsonElement>(new Uri(new Uri(fleet.ControllerEndpoint.Url), "/api/pools"), ct).ConfigureAwait(false);
                    var (properties, degraded) = Describe(pools);
                    await notifications.PublishUpdateAsync(fleet, s => s with
                    {
                        State = degraded ? new ResourceStateSnapshot("Degraded", KnownResourceStateStyles.Warn) : new ResourceStateSnapshot(KnownResourceStates.Running, KnownResourceStateStyles.Success),
                        Properties = properties,
                    }).ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    logger.LogWarning("The controller's /api/pools did not answer: {Error}", e.Message);
                    await notifications.PublishUpdateAsync(fleet, s => s with { State = new ResourceStateSnapshot("Unreachable", KnownResourceStateStyles.Error) }).ConfigureAwait(false);
                }

                await Task.Delay(s_refresh, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The AppHost is stopping.
        }
    }

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
