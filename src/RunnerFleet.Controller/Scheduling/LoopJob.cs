using Microsoft.Extensions.Logging;
using Quartz;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>
/// Base of the loops: one run at a time (<see cref="DisallowConcurrentExecutionAttribute"/> on each job),
/// failures logged and left to the next tick rather than thrown into Quartz.
/// </summary>
internal abstract partial class LoopJob(FleetSignals signals, ILogger logger) : IJob
{
    protected abstract JobKey JobKey { get; }

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        signals.Started(JobKey);
        try
        {
            await RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            LogLoopFailed(logger, JobKey.Name, e);
        }
    }

    protected abstract Task RunAsync(CancellationToken ct);

    [LoggerMessage(Level = LogLevel.Error, Message = "Loop {Loop} failed; the next tick retries")]
    private static partial void LogLoopFailed(ILogger logger, string loop, Exception exception);
}
