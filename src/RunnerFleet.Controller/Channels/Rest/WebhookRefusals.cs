using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>
/// Counts every refused delivery (metric) and logs them sampled: at most one line per 10 s, saying how many
/// were refused since, with header values cut short. A flood of junk must not flood the log.
/// </summary>
internal sealed partial class WebhookRefusals(FleetTelemetry telemetry, TimeProvider time, ILogger<WebhookRefusals> logger)
{
    private static readonly TimeSpan s_every = TimeSpan.FromSeconds(10);
    private readonly Lock _gate = new();
    private DateTimeOffset _lastLogged = DateTimeOffset.MinValue;
    private int _suppressed;

    public void Refused(string reason, string? delivery, string? eventName)
    {
        telemetry.Webhook("refused");
        int suppressed;
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (now - _lastLogged < s_every)
            {
                _suppressed++;
                return;
            }

            _lastLogged = now;
            suppressed = _suppressed;
            _suppressed = 0;
        }

        LogRefused(logger, WebhookJobSource.Truncate(delivery), WebhookJobSource.Truncate(eventName), reason, suppressed);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {Delivery} ({Event}) refused before reading it: {Reason} ({Suppressed} more refused since the last such line)")]
    private static partial void LogRefused(ILogger logger, string delivery, string @event, string reason, int suppressed);
}
