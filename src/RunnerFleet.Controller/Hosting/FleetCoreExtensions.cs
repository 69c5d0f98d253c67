using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Scheduling;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Hosting;

/// <summary>The core every fleet needs, whatever its providers and channels: options, store, GitHub clients, the lifecycle.</summary>
internal static class FleetCoreExtensions
{
    public const string DefaultConnectionString = "Data Source=runnerfleet.db";

    public static IServiceCollection AddFleetCore(this WebApplicationBuilder builder)
    {
        var services = builder.Services;

        // GET /metrics in Prometheus' text format, beside OTLP: the fleet's instruments, HTTP and runtime.
        services.AddOpenTelemetry().WithMetrics(m => m.AddPrometheusExporter());
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);

        services.AddOptions<FleetOptions>().BindConfiguration(FleetOptions.Section).ValidateOnStart();
        services.AddOptions<GitHubOptions>().BindConfiguration(GitHubOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<FleetOptions>, FleetOptionsValidator>();
        services.AddSingleton<IValidateOptions<GitHubOptions>, GitHubOptionsValidator>();
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
        services.AddOptions<ApiOptions>().BindConfiguration(ApiOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>();

        // The store: SQLite (embedded, one controller) or PostgreSQL (shared by several controllers).
        var storeProvider = builder.Configuration["Store:Provider"] is { Length: > 0 } configured ? configured.ToLowerInvariant() : "sqlite";
        var connectionString = builder.Configuration.GetConnectionString("Fleet") ?? (storeProvider == "sqlite" ? DefaultConnectionString : null);
        if (storeProvider is not ("sqlite" or "postgres") || connectionString is null)
        {
            throw new OptionsValidationException("Store", typeof(string), [storeProvider is not ("sqlite" or "postgres")
                ? $"Store:Provider '{storeProvider}' is not known; use sqlite or postgres."
                : "ConnectionStrings:Fleet is missing: Store:Provider postgres needs a connection string (Host=…;Database=…;Username=…;Password=…)."]);
        }

        services.AddSingleton<IFleetStore>(sp => storeProvider == "postgres"
            ? new PostgresFleetStore(connectionString, sp.GetRequiredService<TimeProvider>())
            : new SqliteFleetStore(connectionString, sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<StoreInitializer>();
        services.AddHostedService(sp => sp.GetRequiredService<ControllerNode>());

        services.AddHttpClient<GitHubCredentials>(c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddHttpClient<GitHubApiClient>(c => c.Timeout = TimeSpan.FromSeconds(30));
        // Warm caches are written back only for jobs GitHub's record shows trusted.
        services.AddSingleton<ICacheTrust, CacheTrust>();
        services.AddSingleton<RunnerReleases>();

        services.AddSingleton<Reconciler>();
        return services.AddFleetLifecycle();
    }

    /// <summary>The lifecycle over the ports: what the tests of <c>Lifecycle/</c> run with a fake provider and channel.</summary>
    public static IServiceCollection AddFleetLifecycle(this IServiceCollection services)
    {
        services.AddSingleton<FleetTelemetry>();
        services.AddSingleton<PoolCatalog>();
        services.AddSingleton<ControllerNode>();
        services.AddSingleton<RunnerProviders>();
        services.AddSingleton<RunnerChannels>();
        services.AddSingleton<PoolAvailability>();
        services.AddSingleton<RunnerTransitions>();
        services.AddSingleton<CrashPoints>();
        services.AddSingleton<RunnerTracker>();
        services.AddSingleton<JobIngestor>();
        services.AddSingleton<ProvisionsInFlight>();
        services.TryAddSingleton<ICacheTrust, NoCacheTrust>();
        services.AddSingleton<Caching.RunnerCaches>();
        services.AddSingleton<Provisioner>();
        services.AddSingleton<Reaper>();
        services.AddSingleton<ServerReuse>();
        services.AddSingleton<ActiveRunnerView>();
        services.AddSingleton<PlanExecutor>();
        return services;
    }

    /// <summary>The loops: in memory with SQLite, clustered through the PostgreSQL store otherwise.</summary>
    public static IServiceCollection AddFleetLoops(this IServiceCollection services, IConfiguration configuration)
    {
        var fleet = configuration.GetSection(FleetOptions.Section).Get<FleetOptions>() ?? new FleetOptions();
        var github = configuration.GetSection(GitHubOptions.Section).Get<GitHubOptions>() ?? new GitHubOptions();
        var postgres = string.Equals(configuration["Store:Provider"], "postgres", StringComparison.OrdinalIgnoreCase);
        return services.AddFleetLoops(fleet, github, postgres ? configuration.GetConnectionString("Fleet") : null);
    }
}
