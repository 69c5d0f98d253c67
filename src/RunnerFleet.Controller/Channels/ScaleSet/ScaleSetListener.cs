using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Controller.Lifecycle;

namespace RunnerFleet.Controller.Channels.ScaleSet;

/// <summary>
/// The scale-set protocol loop: for each pool with <c>Discovery: ScaleSet</c>, finds or makes its scale set,
/// holds the scale set's one message session (another listener's 409 means wait and try again, said in the
/// log), long-polls its message queue, acknowledges each message before handling it, and hands the job
/// events to the <see cref="ScaleSetScaler"/>, which also gets the statistics of every answer, empty or not.
/// The session is closed on shutdown.
/// </summary>
internal sealed partial class ScaleSetListener(
    PoolCatalog pools,
    ActionsServiceClient actions,
    ScaleSetRegistry registry,
    ScaleSetScaler scaler,
    ControllerNode node,
    TimeProvider time,
    ILogger<ScaleSetListener> logger) : BackgroundService
{
    /// <summary>How long a listener waits after a 409 (another holds the session) or an error before trying again.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(pools.Pools.Where(p => string.Equals(p.Channel, ScaleSetChannel.KindName, StringComparison.OrdinalIgnoreCase)).Select(p => ListenAsync(p, stoppingToken)));

    private async Task ListenAsync(PoolDefinition pool, CancellationToken ct)
    {
        var scope = pool.DefaultScope ?? throw new InvalidOperationException($"pool {pool.Name} has no scope for its scale set");
        var settings = pool.ChannelSettingsAs<ScaleSetChannelSettings>();
        var name = settings.NameFor(pool.Name);
        var conflictLogged = false;
        while (!ct.IsCancellationRequested)
        {
            ScaleSetSession? session = null;
            long scaleSetId = 0;
            try
            {
                var group = await actions.RunnerGroupIdAsync(scope, settings.ScaleSet.RunnerGroup, ct).ConfigureAwait(false);
                var set = await actions.GetOrCreateScaleSetAsync(scope, name, group, [name], ct).ConfigureAwait(false);
                scaleSetId = set.Id;
                registry.Set(pool.Name, scope, set.Id);
                session = await actions.OpenSessionAsync(scope, set.Id, node.Id, ct).ConfigureAwait(false);
                LogListening(logger, pool.Name, set.Name, set.Id, scope);
                conflictLogged = false;
                await PollAsync(pool, name, scope, set.Id, session, ct).ConfigureAwait(false);
            }
            catch (ActionsServiceException e) when (e.StatusCode == HttpStatusCode.Conflict)
            {
                // Another controller listens to this scale set: only one may. Wait, and take over when it is gone.
                if (!conflictLogged)
                {
                    LogConflict(logger, pool.Name, name, RetryAfter.TotalSeconds);
                    conflictLogged = true;
                }
            }
            catch (Exception e) when (e is ActionsServiceException or HttpRequestException or IOException or GitHub.GitHubApiException
                                      || (e is TaskCanceledException && !ct.IsCancellationRequested))
            {
                LogFailed(logger, pool.Name, e.Message, RetryAfter.TotalSeconds);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            finally
            {
                if (session is not null && ct.IsCancellationRequested)
                {
                    await CloseAsync(scope, scaleSetId, session).ConfigureAwait(false);
                }
            }

            try
            {
                await Task.Delay(RetryAfter, time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        }
    }

    private async Task PollAsync(PoolDefinition pool, string name, string scope, long scaleSetId, ScaleSetSession session, CancellationToken ct)
    {
        long lastMessageId = 0;
        ScaleSetStatistics? statistics = null;
        while (!ct.IsCancellationRequested)
        {
            ScaleSetPollOutcome outcome;
            ScaleSetMessage? message;
            try
            {
                (outcome, message) = await actions.PollAsync(session, lastMessageId, pool.MaxRunners, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !ct.IsCancellationRequested))
            {
                // A dropped long poll: the session still holds; poll again.
                LogDropped(logger, pool.Name, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(false);
                continue;
            }

            switch (outcome)
            {
                case ScaleSetPollOutcome.TokenExpired:
                    session = await actions.RefreshSessionAsync(scope, scaleSetId, session.SessionId, ct).ConfigureAwait(false);
                    LogRefreshed(logger, pool.Name);
                    continue;
                case ScaleSetPollOutcome.Message:
                    lastMessageId = message!.MessageId;
                    // Acknowledged before it is handled, as GitHub's listener does: its events are in the store next.
                    await actions.AcknowledgeAsync(session, message.MessageId, ct).ConfigureAwait(false);
                    await scaler.HandleJobsAsync(pool, name, ActionsServiceClient.Events(message), ct).ConfigureAwait(false);
                    statistics = message.Statistics ?? statistics;
                    break;
            }

            // Re-evaluated on every answer, empty or not, from the latest statistics.
            if (statistics is not null)
            {
                scaler.HandleDesiredRunnerCount(pool, statistics);
            }
        }
    }

    private async Task CloseAsync(string scope, long scaleSetId, ScaleSetSession session)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await actions.CloseSessionAsync(scope, scaleSetId, session.SessionId, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ActionsServiceException or HttpRequestException or OperationCanceledException)
        {
            // The service ends a silent session itself.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Pool {Pool} listens to scale set {ScaleSet} ({ScaleSetId}) of {Scope}")]
    private static partial void LogListening(ILogger logger, string pool, string scaleSet, long scaleSetId, string scope);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pool {Pool}: another listener holds scale set {ScaleSet}'s session (409); trying again every {Seconds:F0} s")]
    private static partial void LogConflict(ILogger logger, string pool, string scaleSet, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pool {Pool}: the scale set listener failed ({Error}); again in {Seconds:F0} s")]
    private static partial void LogFailed(ILogger logger, string pool, string error, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pool {Pool}: the message poll dropped ({Error}); polling again")]
    private static partial void LogDropped(ILogger logger, string pool, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pool {Pool}: message queue token expired; session refreshed")]
    private static partial void LogRefreshed(ILogger logger, string pool);
}
