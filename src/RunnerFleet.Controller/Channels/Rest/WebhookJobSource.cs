using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>
/// Takes <c>workflow_job</c> deliveries: the signature is checked in constant time before the body is
/// parsed; other events are acknowledged and ignored.
/// </summary>
internal sealed partial class WebhookJobSource(JobIngestor ingestor, IFleetStore store, IOptions<GitHubOptions> options, RunnerTracker tracker, FleetTelemetry telemetry, ILogger<WebhookJobSource> logger)
{
    public Task<WebhookOutcome> HandleAsync(string? eventName, string? delivery, string? signature, ReadOnlyMemory<byte> body, CancellationToken ct) =>
        HandleAsync(eventName, delivery, signature, body, string.IsNullOrEmpty(options.Value.WebhookSecret) ? null : WebhookSignature.Compute(options.Value.WebhookSecret, body.Span), ct);

    /// <param name="mac">The HMAC-SHA256 of <paramref name="body"/> with the webhook secret, computed while the body streamed in (null without a secret).</param>
    public async Task<WebhookOutcome> HandleAsync(string? eventName, string? delivery, string? signature, ReadOnlyMemory<byte> body, byte[]? mac, CancellationToken ct)
    {
        var secret = options.Value.WebhookSecret;
        if (string.IsNullOrEmpty(secret) || mac is null || !WebhookSignature.Matches(mac, signature))
        {
            telemetry.Webhook("bad_signature");
            LogBadSignature(logger, Truncate(delivery), Truncate(eventName), string.IsNullOrEmpty(secret) ? "no webhook secret is configured" : signature is null ? "no signature" : "signature mismatch");
            return WebhookOutcome.Unauthorized;
        }

        if (eventName == "ping")
        {
            telemetry.Webhook("ping");
            return WebhookOutcome.Ignored;
        }

        if (eventName != "workflow_job")
        {
            telemetry.Webhook("ignored");
            LogIgnored(logger, delivery ?? "-", eventName ?? "-");
            return WebhookOutcome.Ignored;
        }

        WorkflowJobEvent e;
        try
        {
            e = WorkflowJobMapper.ParseWebhook(body.Span);
        }
        catch (WebhookFormatException ex)
        {
            telemetry.Webhook("malformed");
            LogMalformed(logger, delivery ?? "-", ex.Message);
            return WebhookOutcome.Malformed(ex.Message);
        }

        // A delivery seen before is a replay (or GitHub's redelivery of one we handled): acknowledge, do nothing.
        if (!string.IsNullOrEmpty(delivery) && !await store.TryRecordDeliveryAsync(delivery, ct).ConfigureAwait(false))
        {
            telemetry.Webhook("replay");
            LogReplay(logger, delivery);
            return WebhookOutcome.Ignored;
        }

        // Only repositories this fleet watches (listed, or in a listed organization), with names fit for a URL;
        // and any job one of our runners took, wherever it comes from: it is judged like every job on our runners.
        var repository = e.Repository!.FullName;
        var gh = options.Value;
        if (!RepositoryNames.IsValidRepository(repository)
            || !(gh.Repositories.Contains(repository, StringComparer.OrdinalIgnoreCase) || gh.Organizations.Contains(repository.Split('/')[0], StringComparer.OrdinalIgnoreCase)
                 || tracker.IsOurs(e.WorkflowJob?.RunnerName)))
        {
            telemetry.Webhook("foreign");
            LogForeign(logger, Truncate(delivery), Truncate(repository));
            return WebhookOutcome.Ignored;
        }

        if (WorkflowJobMapper.ToRecord(e.WorkflowJob!, repository) is not { } record)
        {
            // waiting (deployment protection), pending, requested: not demand yet.
            telemetry.Webhook("ignored");
            return WebhookOutcome.Ignored;
        }

        // The payload tells whether the repository is private; the run's event and head repository need a lookup.
        try
        {
            await ingestor.IngestAsync([record with { Origin = new JobOrigin(null, null, e.Repository.Private) }], "webhook", RestChannel.KindName, ct).ConfigureAwait(false);
        }
        catch when (!string.IsNullOrEmpty(delivery))
        {
            // Not ingested: the delivery id must not stay recorded, or GitHub's redelivery would be dropped as a replay.
            await store.ForgetDeliveryAsync(delivery, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        telemetry.Webhook("accepted");
        return WebhookOutcome.Accepted;
    }

    /// <summary>Header and payload values in logs are cut short: a refused delivery is not trusted input.</summary>
    internal static string Truncate(string? value) => value is null ? "-" : value.Length <= 64 ? value : value[..64] + "…";

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {Delivery} for {Repository} ignored: not a repository this fleet watches")]
    private static partial void LogForeign(ILogger logger, string delivery, string repository);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {Delivery} ({Event}) refused: {Reason}")]
    private static partial void LogBadSignature(ILogger logger, string delivery, string @event, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {Delivery} is malformed: {Error}")]
    private static partial void LogMalformed(ILogger logger, string delivery, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {Delivery} was seen before; ignored as a replay")]
    private static partial void LogReplay(ILogger logger, string delivery);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Webhook delivery {Delivery} of event {Event} ignored")]
    private static partial void LogIgnored(ILogger logger, string delivery, string @event);
}

/// <summary>How a delivery was handled; maps to an HTTP status.</summary>
internal sealed record WebhookOutcome(int StatusCode, string? Error = null)
{
    public static readonly WebhookOutcome Accepted = new(202);
    public static readonly WebhookOutcome Ignored = new(204);
    public static readonly WebhookOutcome Unauthorized = new(401, "signature invalid");

    public static WebhookOutcome Malformed(string error) => new(400, error);
}
