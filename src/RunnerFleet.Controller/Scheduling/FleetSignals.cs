using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Quartz;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>
/// Fires a loop's Quartz job now. Signals coalesce: while a run is pending, more signals add nothing,
/// so a burst of 1,000 webhooks causes one plan, not 1,000.
/// </summary>
internal sealed partial class FleetSignals(ISchedulerFactory schedulers, TimeProvider time, ILogger<FleetSignals> logger) : IFleetSignals
{
    /// <summary>
    /// How long a pending trigger absorbs further signals when its run starts elsewhere: clustered, another
    /// controller may run the job, and this one never sees it start.
    /// </summary>
    private static readonly TimeSpan s_pendingFor = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<JobKey, DateTimeOffset> _pending = new();

    public void DemandChanged() => Trigger(PlanAndProvisionJob.Key);

    public void RunnerExited(string runnerName) => Trigger(ReapJob.Key);

    /// <summary>Called by a job as it starts: signals from now on need another run.</summary>
    internal void Started(JobKey key) => _pending.TryRemove(key, out _);

    private void Trigger(JobKey key)
    {
        var now = time.GetUtcNow();
        if (_pending.TryGetValue(key, out var since) && now - since < s_pendingFor)
        {
            return;
        }

        if (!_pending.TryAdd(key, now) && !_pending.TryUpdate(key, now, since))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                var scheduler = await schedulers.GetScheduler().ConfigureAwait(false);
                if (scheduler.Status != SchedulerStatus.Shutdown)
                {
                    await scheduler.TriggerJob(key).ConfigureAwait(false);
                }
            }
            catch (SchedulerException e)
            {
                _pending.TryRemove(key, out _);
                LogTriggerFailed(logger, key.Name, e.Message);
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not trigger {Job} now ({Error}); its interval will run it")]
    private static partial void LogTriggerFailed(ILogger logger, string job, string error);
}
