using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace RunnerFleet.AppHost.Tests;

/// <summary>
/// The Aspire app model, run by Aspire's own orchestrator (DCP, no Docker engine needed): the sandbox fleet with
/// its simulators, the fleet resource and its runners, commands, and a configuration the controller refuses.
/// </summary>
[Trait("Category", "Aspire")]
public sealed class AppHostTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task The_sandbox_runs_the_fleet_with_runners_as_child_resources_and_the_fleet_commands_reach_the_controller()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(s_patience);
        var ct = cts.Token;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.RunnerFleet_AppHost>([], ct);
        await using var app = await builder.BuildAsync(ct);
        await app.StartAsync(ct);

        await app.ResourceNotifications.WaitForResourceHealthyAsync("simulators", ct);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("controller", ct);
        await app.ResourceNotifications.WaitForResourceAsync("fleet", KnownResourceStates.Running, ct);

        // A runner row appears under the fleet as the synthetic jobs flow, and is hidden once the runner is gone.
        var appeared = new Dictionary<string, CustomResourceSnapshot>(StringComparer.Ordinal);
        string? finished = null;
        await foreach (var e in app.ResourceNotifications.WatchAsync(ct))
        {
            if (e.Resource.Name != "fleet-runners" || e.ResourceId == "fleet-runners")
            {
                continue;
            }

            if (!e.Snapshot.IsHidden)
            {
                appeared[e.ResourceId] = e.Snapshot;
            }
            else if (appeared.ContainsKey(e.ResourceId))
            {
                finished = e.ResourceId;
                break;
            }
        }

        var runner = appeared[finished!];
        Assert.Equal("fleet", Property(runner, "resource.parentName"));
        Assert.StartsWith("sandbox-", finished, StringComparison.Ordinal);
        Assert.NotNull(Property(runner, "runner.pool"));
        Assert.NotNull(Property(runner, "runner.provider"));

        // Drain, resume and reconcile go through the controller's admin API.
        using var http = app.CreateHttpClient("controller", "http");
        var drain = await app.ResourceCommands.ExecuteCommandAsync("fleet", "drain-linux-x64", ct);
        Assert.True(drain.Success, drain.Message);
        Assert.True(await DrainedAsync(http, "linux-x64", ct));
        var resume = await app.ResourceCommands.ExecuteCommandAsync("fleet", "resume-linux-x64", ct);
        Assert.True(resume.Success, resume.Message);
        Assert.False(await DrainedAsync(http, "linux-x64", ct));
        var reconcile = await app.ResourceCommands.ExecuteCommandAsync("fleet", "reconcile", ct);
        Assert.True(reconcile.Success, reconcile.Message);
    }

    [Fact]
    public async Task A_configuration_the_controller_refuses_shows_the_fleet_failed_with_the_error()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(s_patience);
        var ct = cts.Token;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.RunnerFleet_AppHost>(
            ["--RunnerFleet:Controller:Fleet:Pools:0:MaxRunners=0"], ct);
        await using var app = await builder.BuildAsync(ct);
        await app.StartAsync(ct);

        var failed = await app.ResourceNotifications.WaitForResourceAsync("fleet", e => e.Snapshot.State?.Text == "Configuration error", ct);

        Assert.Contains("Fleet:Pools:0:MaxRunners", Property(failed.Snapshot, "error"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_real_app_model_with_postgres_a_github_app_and_hetzner_has_unique_names_and_waits_for_its_database()
    {
        var ct = TestContext.Current.CancellationToken;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.RunnerFleet_AppHost>(
            ["--RunnerFleet:Mode=real", "--RunnerFleet:Postgres=true", "--RunnerFleet:GitHubApp=true", "--RunnerFleet:Hetzner=true",
             "--RunnerFleet:Controller:Fleet:Pools:0:Name=arm", "--RunnerFleet:Controller:Fleet:Pools:1:Name=x64"], ct);
        await using var app = await builder.BuildAsync(ct);
        var model = app.Services.GetRequiredService<DistributedApplicationModel>();

        var names = model.Resources.Select(r => r.Name).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        foreach (var name in new[] { "controller", "postgres", "fleet-db", "fleet", "fleet-runners", "github-app-id", "github-app-installation-id", "github-app-private-key", "hetzner-token", "admin-token" })
        {
            Assert.Contains(name, names);
        }

        Assert.DoesNotContain("github-token", names);
        Assert.DoesNotContain("simulators", names);
        var controller = Assert.IsType<ProjectResource>(model.Resources.Single(r => r.Name == "controller"));
        Assert.Contains(controller.Annotations.OfType<WaitAnnotation>(), w => w.Resource.Name == "fleet-db");
        var fleet = model.Resources.Single(r => r.Name == "fleet");
        var commands = fleet.Annotations.OfType<ResourceCommandAnnotation>().Select(c => c.Name).ToList();
        Assert.Equal(["reconcile", "drain-arm", "resume-arm", "drain-x64", "resume-x64"], commands);
    }

    private static string? Property(CustomResourceSnapshot snapshot, string name) =>
        snapshot.Properties.FirstOrDefault(p => p.Name == name)?.Value?.ToString();

    private static async Task<bool> DrainedAsync(HttpClient http, string pool, CancellationToken ct)
    {
        var pools = await http.GetFromJsonAsync<JsonElement>("/api/pools", ct);
        return pools.EnumerateArray().Single(p => p.GetProperty("name").GetString() == pool).GetProperty("drained").GetBoolean();
    }
}
