using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// This controller process as one node of the fleet: an id of its own, stamped on the runners it requests,
/// and a heartbeat in the store. A Requested record whose owner stopped beating was cut off mid-provision
/// (a crash, a killed node of a cluster) and is finished by whichever controller reaps next.
/// </summary>
internal sealed partial class ControllerNode(IFleetStore store, TimeProvider time, ILogger<ControllerNode> logger) : BackgroundService
{
    /// <summary>How often this node checks in.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(3);

    /// <summary>A node silent this long is gone.</summary>
    public static readonly TimeSpan Silence = TimeSpan.FromSeconds(12);

    public string Id { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    /// <summary>Checks in once before the loops start, so this node's own records are never taken for orphans.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.HeartbeatAsync(Id, cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await store.HeartbeatAsync(Id, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogHeartbeatFailed(logger, e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Controller heartbeat failed: {Error}; the next tick retries")]
    private static partial void LogHeartbeatFailed(ILogger logger, string error);
}
