using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Controller.Lifecycle;

namespace RunnerFleet.Controller.Channels.ScaleSet;

/// <summary>
/// The scale-set protocol loop, as actions/scaleset's <c>listener/listener.go</c> runs it: for each pool with
/// <c>Discovery: ScaleSet</c>, find or make its scale set, hold the set's one message session, long-poll its
/// queue, and per message: acknowledge (delete) it, acquire its available jobs, hand job events and the
/// statistics to the <see cref="ScaleSetScaler"/>. The scaler also gets the statistics of the session's
/// creation and of every empty poll.
/// <para>
/// Session hygiene: only one session per scale set may exist (a second gets 409); this listener deletes its
/// own before it ever opens another, on every exit (actions-runner-controller defers the close likewise), so
/// it never locks itself out. A 401 from the queue, an acknowledge or an acquire refreshes the session and
/// tries again; transient failures are retried in place; a message of an unexpected shape is logged and skipped.
/// </para>
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
            var listening = new Listening(pool, scope, name);
            try
            {
                var group = await actions.RunnerGroupIdAsync(scope, settings.ScaleSet.RunnerGroup, ct).ConfigureAwait(false);
                var set = await actions.GetOrCreateScaleSetAsync(scope, name, group, [name], ct).ConfigureAwait(false);
                listening.ScaleSetId = set.Id;
                registry.Set(pool.Name, scope, set.Id);
                listening.Session = await actions.OpenSessionAsync(scope, set.Id, node.Id, ct).ConfigureAwait(false);
                LogListening(logger, pool.Name, set.Name, set.Id, scope);
                conflictLogged = false;
                await PollAsync(listening, ct).ConfigureAwait(false);
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
            catch (Exception e) when (e is ActionsServiceException or HttpRequestException or IOException or JsonException or GitHub.GitHubApiException
                                      || (e is TaskCanceledException && !ct.IsCancellationRequested))
            {
                LogFailed(logger, pool.Name, e.Message, RetryAfter.TotalSeconds);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            finally
            {
                // Our own session goes before another is opened (or we stop): never a 409 from ourselves.
                await CloseAsync(listening).ConfigureAwait(false);
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

    private async Task PollAsync(Listening l, CancellationToken ct)
    {
        // The session's own statistics seed the desired count (actions/scaleset: a session without them is an error).
        var statistics = l.Session!.Statistics;
        var statisticsAt = time.GetUtcNow();
        if (statistics is not null)
        {
            await scaler.HandleDesiredRunnerCountAsync(l.Pool, statistics, statisticsAt, ct).ConfigureAwait(false);
        }

        long lastMessageId = 0;
        var dropped = 0;
        while (!ct.IsCancellationRequested)
        {
            ScaleSetPollOutcome outcome;
            ScaleSetMessage? message;
            try
            {
                (outcome, message) = await actions.PollAsync(l.Session!, lastMessageId, l.Pool.MaxRunners, ct).ConfigureAwait(false);
                dropped = 0;
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !ct.IsCancellationRequested)
                                      || (e is ActionsServiceException a && (int)a.StatusCode >= 500))
            {
                // A dropped long poll or a passing server error: the session still holds; poll again, backing off a little.
                LogDropped(logger, l.Pool.Name, e.Message);
                dropped++;
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, dropped)), time, ct).ConfigureAwait(false);
                continue;
            }

            switch (outcome)
            {
                case ScaleSetPollOutcome.TokenExpired:
                    await RefreshAsync(l, ct).ConfigureAwait(false);
                    continue;
                case ScaleSetPollOutcome.Message:
                    lastMessageId = message!.MessageId;
                    await HandleAsync(l, message, ct).ConfigureAwait(false);
                    if (message.Statistics is { } fresh)
                    {
                        statistics = fresh;
                        statisticsAt = time.GetUtcNow();
                    }

                    break;
            }

            // Re-evaluated on every answer, empty or not, from the latest statistics.
            if (statistics is not null)
            {
                await scaler.HandleDesiredRunnerCountAsync(l.Pool, statistics, statisticsAt, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>In actions/scaleset's order: delete the message, acquire its available jobs, then the job events.</summary>
    private async Task HandleAsync(Listening l, ScaleSetMessage message, CancellationToken ct)
    {
        // Acknowledged before it is handled, as GitHub's listener does: demand comes from the statistics, so a
        // message lost after this costs no runner.
        while (!await actions.AcknowledgeAsync(l.Session!, message.MessageId, ct).ConfigureAwait(false))
        {
            await RefreshAsync(l, ct).ConfigureAwait(false);
        }

        IReadOnlyList<ScaleSetJobEvent> events;
        try
        {
            events = ActionsServiceClient.Events(message);
        }
        catch (JsonException e)
        {
            LogUnexpectedBody(logger, l.Pool.Name, message.MessageId, message.MessageType, e.Message);
            return;
        }

        var available = events.Where(e => e.MessageType == "JobAvailable").Select(e => e.RunnerRequestId).ToList();
        if (available.Count > 0)
        {
            IReadOnlyList<long>? acquired;
            while ((acquired = await actions.AcquireJobsAsync(l.Scope, l.ScaleSetId, l.Session!, available, ct).ConfigureAwait(false)) is null)
            {
                await RefreshAsync(l, ct).ConfigureAwait(false);
            }

            LogAcquired(logger, l.Pool.Name, acquired.Count, available.Count);
        }

        await scaler.HandleJobsAsync(l.Pool, events, ct).ConfigureAwait(false);
    }

    /// <summary>A new queue token for the session (after a 401).</summary>
    private async Task RefreshAsync(Listening l, CancellationToken ct)
    {
        l.Session = await actions.RefreshSessionAsync(l.Scope, l.ScaleSetId, l.Session!.SessionId, ct).ConfigureAwait(false);
        LogRefreshed(logger, l.Pool.Name);
    }

    private async Task CloseAsync(Listening l)
    {
        if (l.Session is not { } session)
        {
            return;
        }

        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await actions.CloseSessionAsync(l.Scope, l.ScaleSetId, session.SessionId, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ActionsServiceException or HttpRequestException or IOException or OperationCanceledException)
        {
            // Expired or evicted already (400/404), or the service is away: it ends a silent session itself.
            LogCloseFailed(logger, l.Pool.Name, e.Message);
        }
    }

    /// <summary>One listening attempt: the pool, its scale set, and the session while it is open.</summary>
    private sealed class Listening(PoolDefinition pool, string scope, string name)
    {
        public PoolDefinition Pool { get; } = pool;
        public string Scope { get; } = scope;
        public string Name { get; } = name;
        public long ScaleSetId { get; set; }
        public ScaleSetSession? Session { get; set; }
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Pool {Pool}: message {MessageId} ({MessageType}) has a body of an unexpected shape, skipped: {Error}")]
    private static partial void LogUnexpectedBody(ILogger logger, string pool, long messageId, string messageType, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pool {Pool}: acquired {Acquired} of {Available} available jobs")]
    private static partial void LogAcquired(ILogger logger, string pool, int acquired, int available);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pool {Pool}: closing the scale set session failed ({Error})")]
    private static partial void LogCloseFailed(ILogger logger, string pool, string error);
}
