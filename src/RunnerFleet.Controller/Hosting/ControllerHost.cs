using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using RunnerFleet.Controller.Api;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers.Docker;
using RunnerFleet.Controller.Providers.Hetzner;
using RunnerFleet.Controller.Providers.InProcess;
using RunnerFleet.Controller.Scheduling;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Hosting;

/// <summary>Composes the controller. Program, sandbox mode and the integration tests all build it here.</summary>
public static class ControllerHost
{
    public const string DefaultConnectionString = "Data Source=runnerfleet.db";

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

        // GET /metrics in Prometheus' text format, beside OTLP: the fleet's instruments, HTTP and runtime.
        builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddPrometheusExporter());
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.Services.AddMetrics();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<FleetTelemetry>();

        builder.Services.AddOptions<FleetOptions>().BindConfiguration(FleetOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<GitHubOptions>().BindConfiguration(GitHubOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<DockerOptions>().BindConfiguration(DockerOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<HetznerOptions>().BindConfiguration(HetznerOptions.Section);
        builder.Services.AddSingleton<IValidateOptions<FleetOptions>, FleetOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<GitHubOptions>, GitHubOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<DockerOptions>, DockerOptionsValidator>();
        builder.Services.AddSingleton<PoolCatalog>();

        // The store: SQLite (embedded, one controller) or PostgreSQL (shared by several controllers).
        var storeProvider = builder.Configuration["Store:Provider"] is { Length: > 0 } configured ? configured.ToLowerInvariant() : "sqlite";
        var connectionString = builder.Configuration.GetConnectionString("Fleet") ?? (storeProvider == "sqlite" ? DefaultConnectionString : null);
        if (storeProvider is not ("sqlite" or "postgres") || connectionString is null)
        {
            throw new OptionsValidationException("Store", typeof(string), [storeProvider is not ("sqlite" or "postgres")
                ? $"Store:Provider '{storeProvider}' is not known; use sqlite or postgres."
                : "ConnectionStrings:Fleet is missing: Store:Provider postgres needs a connection string (Host=…;Database=…;Username=…;Password=…)."]);
        }

        builder.Services.AddSingleton<IFleetStore>(sp => storeProvider == "postgres"
            ? new PostgresFleetStore(connectionString, sp.GetRequiredService<TimeProvider>())
            : new SqliteFleetStore(connectionString, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddHostedService<StoreInitializer>();
        builder.Services.AddSingleton<ControllerNode>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ControllerNode>());

        builder.Services.AddHttpClient<GitHubCredentials>(c => c.Timeout = TimeSpan.FromSeconds(30));
        builder.Services.AddHttpClient<GitHubApiClient>(c => c.Timeout = TimeSpan.FromSeconds(30));
        // The scale-set message queue is a long poll (~50 s).
        builder.Services.AddHttpClient<ActionsServiceClient>(c => c.Timeout = TimeSpan.FromSeconds(90));
        builder.Services.AddSingleton<ScaleSetRegistry>();
        builder.Services.AddHostedService<ScaleSetListener>();
        builder.Services.AddHttpClient(nameof(InProcessRunnerProvider), c => c.Timeout = TimeSpan.FromSeconds(60));

        // Only the providers some pool uses: the reconciler lists every registered provider's inventory.
        var fleet = builder.Configuration.GetSection(FleetOptions.Section).Get<FleetOptions>() ?? new FleetOptions();
        bool Uses(string kind) => fleet.Pools.Any(p => string.Equals(p.Provider, kind, StringComparison.OrdinalIgnoreCase));
        if (Uses("docker"))
        {
            builder.Services.AddSingleton<HostFirewall>();
            builder.Services.AddSingleton<DockerProvider>();
            builder.Services.AddSingleton<IRunnerProvider>(sp => sp.GetRequiredService<DockerProvider>());
            builder.Services.AddHostedService<DockerPlatformCheck>();
        }

        if (Uses("inprocess"))
        {
            builder.Services.AddSingleton<InProcessRunnerProvider>();
            builder.Services.AddSingleton<IRunnerProvider>(sp => sp.GetRequiredService<InProcessRunnerProvider>());
        }

        if (Uses("hetzner"))
        {
            builder.Services.AddHttpClient<HetznerClient>(c => c.Timeout = TimeSpan.FromSeconds(60));
            builder.Services.AddSingleton<IRunnerProvider, HetznerProvider>();
        }

        builder.Services.AddSingleton<RunnerProviders>();
        builder.Services.AddSingleton<PoolAvailability>();

        builder.Services.AddSingleton<RunnerTransitions>();
        builder.Services.AddSingleton<CrashPoints>();
        builder.Services.AddSingleton<RunnerTracker>();
        builder.Services.AddSingleton<ForkPolicy>();
        builder.Services.AddSingleton<JobIngestor>();
        builder.Services.AddSingleton<Provisioner>();
        builder.Services.AddSingleton<Reaper>();
        builder.Services.AddSingleton<Reconciler>();
        builder.Services.AddSingleton<PlanExecutor>();
        builder.Services.AddSingleton<RestPollingJobSource>();
        builder.Services.AddSingleton<WebhookJobSource>();

        var github = builder.Configuration.GetSection(GitHubOptions.Section).Get<GitHubOptions>() ?? new GitHubOptions();
        builder.Services.AddFleetLoops(fleet, github, storeProvider == "postgres" ? connectionString : null);
        builder.Services.AddHostedService<StartupSummary>();

        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapPrometheusScrapingEndpoint();
        app.MapFleetApi();
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
