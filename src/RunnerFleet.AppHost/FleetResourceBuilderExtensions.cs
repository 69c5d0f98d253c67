using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RunnerFleet.AppHost;

// Shares the Aspire.Hosting namespace so the extension is visible from AppHost.cs, as Aspire's own integrations do.
namespace Aspire.Hosting;

/// <summary>Adds the <see cref="FleetResource"/> to the app model.</summary>
public static class FleetResourceBuilderExtensions
{
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
        // The live runners: one row each (an instance of this resource, named after the runner), under the fleet.
        var runners = new FleetRunnersResource($"{name}-runners");
        builder.AddResource(runners)
            .WithInitialState(new CustomResourceSnapshot { ResourceType = "Runner", State = KnownResourceStates.Waiting, Properties = [], IsHidden = true })
            .WithIconName("Play")
            .ExcludeFromManifest();
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
            .OnInitializeResource((r, e, ct) =>
            {
                // The refresh loop lives as long as the AppHost; initialization itself returns at once.
                var stopping = e.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
                var logs = e.Services.GetRequiredService<ResourceLoggerService>();
                var watch = new FleetWatcher(r, runners, controller.Resource, e.Notifications, logs, e.Logger);
                _ = Task.Run(() => watch.RunAsync(stopping), stopping);
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
}
