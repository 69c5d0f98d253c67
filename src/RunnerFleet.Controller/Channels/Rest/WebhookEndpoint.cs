using Microsoft.AspNetCore.Http.Features;

namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>The GitHub webhook endpoint (<c>POST /webhooks/github</c>) of the REST channel.</summary>
internal static class WebhookEndpoint
{
    /// <summary>GitHub caps deliveries at 25 MB; a workflow_job event is ~10 KB. Anything near 1 MB is not one.</summary>
    public const long MaxWebhookBytes = 1024 * 1024;

    public static IEndpointRouteBuilder MapGitHubWebhook(this IEndpointRouteBuilder app)
    {
        app.MapPost("/webhooks/github", async (HttpContext ctx, WebhookJobSource webhooks) =>
        {
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

            var h = ctx.Request.Headers;
            var outcome = await webhooks.HandleAsync(h["X-GitHub-Event"].FirstOrDefault(), h["X-GitHub-Delivery"].FirstOrDefault(), h["X-Hub-Signature-256"].FirstOrDefault(), body, ctx.RequestAborted).ConfigureAwait(false);
            return outcome.Error is null ? Results.StatusCode(outcome.StatusCode) : Results.Json(new { error = outcome.Error }, statusCode: outcome.StatusCode);
        });

        return app;
    }
}
