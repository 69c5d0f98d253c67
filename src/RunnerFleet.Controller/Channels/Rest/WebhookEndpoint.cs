using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;

namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>The GitHub webhook endpoint (<c>POST /webhooks/github</c>) of the REST channel.</summary>
internal static class WebhookEndpoint
{
    /// <summary>GitHub caps deliveries at 25 MB; a workflow_job event is ~10 KB. Anything near 1 MB is not one.</summary>
    public const long MaxWebhookBytes = 1024 * 1024;

    /// <summary>The rate-limiter policy of the endpoint: a bounded number of deliveries at once, a bounded queue, 429 past it.</summary>
    public const string Policy = "webhooks";

    /// <summary>Deliveries handled at once; more wait in a queue of <see cref="QueueLimit"/>, and past that get 429.</summary>
    public const int Concurrency = 16;

    public const int QueueLimit = 512;

    public static IServiceCollection AddWebhookLimits(this IServiceCollection services) =>
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddConcurrencyLimiter(Policy, c =>
            {
                c.PermitLimit = Concurrency;
                c.QueueLimit = QueueLimit;
                c.QueueProcessingOrder = QueueProcessingOrder.OldestFirst;
            });
        });

    public static IEndpointRouteBuilder MapGitHubWebhook(this IEndpointRouteBuilder app)
    {
        app.MapPost("/webhooks/github", async (HttpContext ctx, WebhookJobSource webhooks, IOptions<GitHubOptions> options, WebhookRefusals refusals) =>
        {
            // Refused before a byte of the body is read: no secret, no signature, no event.
            var h = ctx.Request.Headers;
            var (eventName, delivery, signature) = (h["X-GitHub-Event"].FirstOrDefault(), h["X-GitHub-Delivery"].FirstOrDefault(), h["X-Hub-Signature-256"].FirstOrDefault());
            if (string.IsNullOrEmpty(options.Value.WebhookSecret) || string.IsNullOrEmpty(signature))
            {
                refusals.Refused(string.IsNullOrEmpty(options.Value.WebhookSecret) ? "no webhook secret is configured" : "no signature", delivery, eventName);
                return Results.StatusCode(StatusCodes.Status401Unauthorized);
            }

            if (string.IsNullOrEmpty(eventName))
            {
                refusals.Refused("no X-GitHub-Event header", delivery, eventName);
                return Results.Json(new { error = "the X-GitHub-Event header is missing" }, statusCode: StatusCodes.Status400BadRequest);
            }

            var sizeFeature = ctx.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (sizeFeature is { IsReadOnly: false })
            {
                sizeFeature.MaxRequestBodySize = MaxWebhookBytes;
            }

            if (ctx.Request.ContentLength > MaxWebhookBytes)
            {
                return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
            }

            // Hashed while it streams into a buffer capped at MaxWebhookBytes (also without a Content-Length:
            // chunked bodies are cut off at the cap, not buffered whole first).
            ReadOnlyMemory<byte> body;
            byte[] mac;
            try
            {
                (body, mac) = await ReadSignedBodyAsync(ctx.Request.Body, ctx.Request.ContentLength, options.Value.WebhookSecret!, ctx.RequestAborted).ConfigureAwait(false);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
            }

            if (body.Length > MaxWebhookBytes)
            {
                return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
            }

            var outcome = await webhooks.HandleAsync(eventName, delivery, signature, body, mac, ctx.RequestAborted).ConfigureAwait(false);
            return outcome.Error is null ? Results.StatusCode(outcome.StatusCode) : Results.Json(new { error = outcome.Error }, statusCode: outcome.StatusCode);
        }).RequireRateLimiting(Policy);

        return app;
    }

    /// <summary>
    /// Reads the body into one buffer (sized from Content-Length when given, grown otherwise) while feeding
    /// an HMAC-SHA256 with the secret; stops one byte past <see cref="MaxWebhookBytes"/> (the caller answers 413).
    /// </summary>
    internal static async Task<(ReadOnlyMemory<byte> Body, byte[] Mac)> ReadSignedBodyAsync(Stream stream, long? contentLength, string secret, CancellationToken ct)
    {
        using var hmac = System.Security.Cryptography.IncrementalHash.CreateHMAC(System.Security.Cryptography.HashAlgorithmName.SHA256, System.Text.Encoding.UTF8.GetBytes(secret));
        var buffer = new byte[(int)Math.Clamp(contentLength ?? 16 * 1024, 1, MaxWebhookBytes + 1)];
        var length = 0;
        while (length <= MaxWebhookBytes)
        {
            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(buffer.Length * 2L, MaxWebhookBytes + 1));
            }

            var read = await stream.ReadAsync(buffer.AsMemory(length), ct).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            hmac.AppendData(buffer, length, read);
            length += read;
        }

        return (buffer.AsMemory(0, length), hmac.GetHashAndReset());
    }
}
