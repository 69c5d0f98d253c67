using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Hosting;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Tests.Lifecycle;

/// <summary>
/// The controller's lifecycle services wired as AddFleetCore wires them, in process: one pool "linux" on a
/// fake provider and a fake channel, the real SQLite store in a temporary file, a fake clock. No engine, no HTTP
/// (so no Reconciler: it needs the GitHub client).
/// </summary>
internal sealed class LifecycleFixture : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"rf-lifecycle-{Guid.NewGuid():N}.db");
    private readonly ServiceProvider _services;

    private LifecycleFixture(bool paid = false)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Fleet:Name"] = "test",
            ["Fleet:Pools:0:Name"] = "linux",
            ["Fleet:Pools:0:Labels:0"] = "linux",
            ["Fleet:Pools:0:Labels:1"] = "x64",
            ["Fleet:Pools:0:Provider"] = FakeProvider.KindName,
            ["Fleet:Pools:0:Discovery"] = FakeChannel.KindName,
            ["Fleet:Pools:0:MaxRunners"] = "4",
            ["Fleet:Pools:0:BootTimeout"] = "00:05:00",
            ["GitHub:Token"] = "test-token",
            ["GitHub:Repositories:0"] = "octo/app",
        }).Build();

        var services = new ServiceCollection().AddLogging().AddMetrics();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton<TimeProvider>(Time);
        services.AddSingleton<IFleetSignals>(Signals);
        services.AddSingleton<IFleetStore>(new SqliteFleetStore(ConnectionString, Time));
        services.AddOptions<FleetOptions>().Bind(configuration.GetSection(FleetOptions.Section));
        services.AddOptions<GitHubOptions>().Bind(configuration.GetSection(GitHubOptions.Section));
        services.AddRunnerProvider<FakeProvider, FakeSettings>(FakeProvider.KindName, "Fake", paid ? new ProviderTraits { BillsPerHour = true } : ProviderTraits.Free, (_, _) => [], _ => new Dictionary<string, object?>());
        services.AddSingleton(new ChannelPlugin(FakeChannel.KindName, IsDefault: true, PoolSettingsBinder.For<FakeSettings>((_, _) => [], _ => new Dictionary<string, object?>())));
        services.AddKeyedSingleton<IRunnerChannel>(FakeChannel.KindName, Channel);
        services.AddSingleton<IJobPolicy>(Policy);
        services.AddFleetLifecycle();
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public FakeTimeProvider Time { get; } = new(Start);
    public FakeChannel Channel { get; } = new();
    public FakePolicy Policy { get; } = new();
    public FakeSignals Signals { get; } = new();
    public FakeProvider Provider => Get<FakeProvider>();
    public IFleetStore Store => Get<IFleetStore>();
    public ControllerNode Node => Get<ControllerNode>();
    public PoolDefinition Pool => Get<PoolCatalog>().Pools[0];
    public Provisioner Provisioner => Get<Provisioner>();
    public Reaper Reaper => Get<Reaper>();
    public JobIngestor Ingestor => Get<JobIngestor>();
    private string ConnectionString => $"Data Source={_path}";

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    /// <summary>A fleet with its schema in place and this node checked in, as ControllerNode.StartAsync leaves it.</summary>
    public static async Task<LifecycleFixture> CreateAsync(CancellationToken ct, bool paid = false)
    {
        var fleet = new LifecycleFixture(paid);
        await fleet.Store.InitializeAsync(ct);
        await fleet.Store.HeartbeatAsync(fleet.Node.Id, ct);
        return fleet;
    }

    /// <summary>Moves the clock; this node's heartbeat keeps up, as its timer would.</summary>
    public async Task AdvanceAsync(TimeSpan by, CancellationToken ct)
    {
        Time.Advance(by);
        await Store.HeartbeatAsync(Node.Id, ct);
    }

    /// <summary>A runner made by the provisioner in the pool for octo/app: Provisioning.</summary>
    public async Task<RunnerRecord> ProvisionAsync(CancellationToken ct)
    {
        var result = await Provisioner.ProvisionAsync(Pool, "octo/app", ct);
        return result.ErrorCode is null ? result.Runner : throw new InvalidOperationException($"provisioning failed: {result.Runner.FailureReason}");
    }

    public async Task<RunnerRecord> RunnerAsync(string id, CancellationToken ct) =>
        await Store.GetRunnerAsync(id, ct) ?? throw new InvalidOperationException($"no runner {id}");

    /// <summary>The states the runner's event log went through, in order.</summary>
    public async Task<IReadOnlyList<RunnerState>> StatesAsync(string id, CancellationToken ct) =>
        [.. (await Store.ListEventsAsync(id, ct)).Select(e => e.To)];

    /// <summary>A job of octo/app that the pool serves, queued at <see cref="Start"/>, as a job source reports it.</summary>
    public static JobRecord Job(long id, JobStatus status = JobStatus.Queued) =>
        new() { Id = id, RunId = 7000 + id, Repository = "octo/app", Name = "build", Labels = ["self-hosted", "linux"], Status = status, QueuedAt = Start };

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        using (var connection = new SqliteConnection(ConnectionString))
        {
            SqliteConnection.ClearPool(connection);
        }

        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }
}
