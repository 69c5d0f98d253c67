using Microsoft.Extensions.Configuration.EnvironmentVariables;
using RunnerFleet.Controller.Api;
using RunnerFleet.Controller.Channels.Rest;
using RunnerFleet.Controller.Channels.ScaleSet;
using RunnerFleet.Controller.Providers.Docker;
using RunnerFleet.Controller.Providers.Hetzner;
using RunnerFleet.Controller.Providers.Qemu;
using RunnerFleet.Controller.Scheduling;
using RunnerFleet.Controller.Telemetry;


namespace RunnerFleet.Controller.Hosting;

/// <summary>
/// Composes the controller: the core, then one line per provider and per channel, then the loops. Program,
/// sandbox mode, the tests and the benchmarks all build it here (they add their own providers through <c>configure</c>).
/// </summary>
internal static class ControllerHost
{
    /// <param name="args">Command-line arguments; they win over every other source.</param>
    /// <param name="defaults">Settings below environment and command line (sandbox defaults, test settings).</param>
    /// <param name="configure">Last word on services (tests swap the TimeProvider, say).</param>
    public static WebApplication Build(string[] args, IDictionary<string, string?>? defaults = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ApplicationName = typeof(ControllerHost).Assembly.GetName().Name });
        if (defaults is not null)
        {
            InsertBelowEnvironment(builder.Configuration, defaults);
        }

        builder.AddBasicServiceDefaults(FleetTelemetry.Name);
        builder.AddFleetCore()
            .AddDockerProvider()
            .AddHetznerProvider()
            .AddQemuProvider()
            .AddRestChannel()
            .AddScaleSetChannel()
            .AddFleetLoops(builder.Configuration);
        builder.Services.AddHostedService<StartupSummary>();

        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseRateLimiter();
        app.UseReadAccess();
        app.MapDefaultEndpoints();
        app.MapPrometheusScrapingEndpoint();
        app.MapFleetApi();
        app.MapGitHubWebhook();
        app.MapAdminApi();
        app.MapStatusPage();
        return app;
    }

    /// <summary>Puts <paramref name="values"/> above appsettings but below environment variables and the command line.</summary>
    private static void InsertBelowEnvironment(ConfigurationManager configuration, IDictionary<string, string?> values)
    {
        var sources = ((IConfigurationBuilder)configuration).Sources;
        // The last un-prefixed environment source is the application's (earlier ones hold DOTNET_/ASPNETCORE_ host settings).
        var index = sources.Select((s, i) => (s, i)).LastOrDefault(x => x.s is EnvironmentVariablesConfigurationSource { Prefix: null or "" }).i;
        var source = new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = values };
        if (index > 0)
        {
            sources.Insert(index, source);
        }
        else
        {
            sources.Insert(0, source);
        }
    }
}
