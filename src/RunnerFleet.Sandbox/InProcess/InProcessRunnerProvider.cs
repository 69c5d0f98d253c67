using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Sandbox.Runner;

namespace RunnerFleet.Sandbox.InProcess;

/// <summary>
/// Runs the sandbox's simulated runner as a task in this process: for <c>--sandbox</c> on a machine with
/// no Docker engine, and for tests of the controller's loops. Same protocol as the container image.
/// </summary>
internal sealed partial class InProcessRunnerProvider(IHttpClientFactory httpClients, TimeProvider time, IFleetSignals signals, IConfiguration configuration, ILogger<InProcessRunnerProvider> logger)
    : IRunnerProvider, IDisposable
{
    /// <summary><c>InProcess:BootDelay</c>: how long a simulated runner takes to boot before it registers (benchmarks, demos).</summary>
    private readonly TimeSpan _bootDelay = configuration.GetValue<TimeSpan?>("InProcess:BootDelay") ?? TimeSpan.Zero;

    private readonly ConcurrentDictionary<string, Entry> _runners = new(StringComparer.Ordinal);

    /// <summary>The provider's name, as pools name it (<c>Provider: inprocess</c>).</summary>
    public const string KindName = "inprocess";

    public string Kind => KindName;

    public Task<ProvisionedRunner> CreateAsync(RunnerLaunch launch, CancellationToken ct)
    {
        var entry = _runners.GetOrAdd(launch.Name, name =>
        {
            var e = new Entry(name, launch.Pool.Name);
            e.Task = Task.Run(() => RunAsync(e, launch, e.Stop.Token), CancellationToken.None);
            return e;
        });
        return Task.FromResult(ToProvisioned(entry));
    }

    public async Task DestroyAsync(ProvisionedRunner runner, CancellationToken ct)
    {
        if (_runners.TryRemove(runner.RunnerName, out var entry))
        {
            await entry.Stop.CancelAsync().ConfigureAwait(false);
            entry.Stop.Dispose();
        }
    }

    public async IAsyncEnumerable<ProvisionedRunner> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var entry in _runners.Values)
        {
            yield return ToProvisioned(entry);
        }
    }

    public void Dispose()
    {
        foreach (var entry in _runners.Values)
        {
            if (_runners.TryRemove(entry.Name, out _))
            {
                entry.Stop.Cancel();
            }
        }
    }

    private async Task RunAsync(Entry entry, RunnerLaunch launch, CancellationToken ct)
    {
        // The same pre-job hook and settings the Docker and Hetzner providers install on their runners.
        var runner = new SimulatedRunner(httpClients.CreateClient(nameof(InProcessRunnerProvider)), time)
        {
            JobStartedHook = new JobStartedHook(Controller.Providers.RunnerHook.Script, Controller.Providers.RunnerHook.Settings(launch.Pool)),
        };
        try
        {
            if (_bootDelay > TimeSpan.Zero)
            {
                await Task.Delay(_bootDelay, time, ct).ConfigureAwait(false);
            }

            var job = launch.JitConfig is { } jit
                ? await runner.RunWithJitConfigAsync(jit, ct).ConfigureAwait(false)
                : await runner.RunWithRegistrationTokenAsync(launch.RegistrationUrl!, launch.RegistrationToken!, launch.Name, launch.Pool.Labels, ct).ConfigureAwait(false);
            entry.ExitCode = job is null ? 1 : 0;
        }
        catch (OperationCanceledException)
        {
            entry.ExitCode = 143;
        }
        catch (Exception e) when (e is HttpRequestException or FormatException or KeyNotFoundException)
        {
            LogRunnerFailed(logger, launch.Name, e.Message);
            entry.ExitCode = 1;
        }

        entry.Exited = true;
        signals.RunnerExited(launch.Name);
    }

    private static ProvisionedRunner ToProvisioned(Entry e) => new()
    {
        ResourceId = "inprocess:" + e.Name,
        RunnerName = e.Name,
        Pool = e.Pool,
        Endpoint = KindName,
        Status = e.Exited ? ProvisionedStatus.Exited : ProvisionedStatus.Running,
        ExitCode = e.ExitCode,
    };

    private sealed class Entry(string name, string pool)
    {
        public string Name { get; } = name;
        public string Pool { get; } = pool;
        public CancellationTokenSource Stop { get; } = new();
        public Task? Task { get; set; }
        public volatile bool Exited;
        public int? ExitCode { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Simulated runner {RunnerName} failed: {Error}")]
    private static partial void LogRunnerFailed(ILogger logger, string runnerName, string error);
}
