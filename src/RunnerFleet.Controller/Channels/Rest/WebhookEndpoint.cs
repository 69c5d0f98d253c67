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

            byte[] body;
            try
            {
                using var buffer = new MemoryStream();
                await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted).ConfigureAwait(false);
                body = buffer.ToArray();
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
            }

            var outcome = await webhooks.HandleAsync(eventName, delivery, signature, body, ctx.RequestAborted).ConfigureAwait(false);
            return outcome.Error is null ? Results.StatusCode(outcome.StatusCode) : Results.Json(new { error = outcome.Error }, statusCode: outcome.StatusCode);
        }).RequireRateLimiting(Policy);

        return app;
    }
}
