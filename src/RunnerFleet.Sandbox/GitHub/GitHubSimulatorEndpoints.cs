using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>
/// Maps GitHub's REST endpoints (as RunnerFleet uses them), the runner's own protocol (<c>/_runner</c>)
/// and the sandbox control API (<c>/_sandbox</c>) onto a <see cref="GitHubSimulator"/>.
/// This file holds the entry points and shared helpers; each area's routes are in their own partial file.
/// </summary>
public static partial class GitHubSimulatorEndpoints
{
    private const string TokenKey = "sim.token";

    public static IEndpointRouteBuilder MapGitHubSimulator(this IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        MapRest(app, sim);
        MapRunnerProtocol(app, sim);
        app.MapScaleSets(sim);
        MapSandboxControl(app, sim);
        return app;
    }

    /// <summary>Auth, injected faults and rate limits, in GitHub's order, for the REST API.</summary>
    public static IApplicationBuilder UseGitHubSimulatorGate(this IApplicationBuilder app, GitHubSimulator sim) =>
        app.Use(async (ctx, next) =>
        {
            var path = ctx.Request.Path.Value ?? "/";
            if (sim.Options.Latency is { } latency && !path.StartsWith("/_sandbox", StringComparison.Ordinal) && path is not ("/" or "/health"))
            {
                // The benchmark's GitHub round trip (an assumption it records; see SimLatency): held before any answer.
                await Task.Delay(sim.DrawLatency(latency, ctx.Request.Method), sim.Time, ctx.RequestAborted).ConfigureAwait(false);
            }
            // GitHub refuses API requests without a User-Agent (REST docs, "Getting started with the REST API":
            // "Requests with no User-Agent header will be rejected"; 403). The Actions service and the message
            // queue are held to it as well: actions/scaleset sends one on every call. Only the runner's own
            // protocol and the sandbox's control API are exempt (they are not GitHub's API).
            if (!path.StartsWith("/_runner", StringComparison.Ordinal) && !path.StartsWith("/_sandbox", StringComparison.Ordinal)
                && !path.StartsWith("/v1/", StringComparison.Ordinal) && path is not ("/" or "/health")
                && string.IsNullOrWhiteSpace(ctx.Request.Headers.UserAgent.ToString()))
            {
                await Error(ctx, 403, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).").ConfigureAwait(false);
                return;
            }

            // The Actions service (/_actions, scale sets) and its registration check their own credentials.
            if (path.StartsWith("/_actions/", StringComparison.Ordinal) && sim.TakeFault(ctx.Request.Method, path) is { } serviceFault)
            {
                // The Actions service fails too (5xx from its front end), in tests.
                await Error(ctx, serviceFault.Status, "Service Unavailable").ConfigureAwait(false);
                return;
            }

            if (path.StartsWith("/_", StringComparison.Ordinal) || path.StartsWith("/v1/", StringComparison.Ordinal) || path is "/" or "/health" or "/actions/runner-registration")
            {
                await next(ctx).ConfigureAwait(false);
                return;
            }

            ctx.Response.Headers["X-GitHub-Api-Version-Selected"] = "2022-11-28";
            var auth = ctx.Request.Headers.Authorization.ToString();
            var token = auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? auth[7..].Trim()
                : auth.StartsWith("token ", StringComparison.OrdinalIgnoreCase) ? auth[6..].Trim() : null;

            // App endpoints take a JWT instead of a token; they are checked by their handler.
            var isAppEndpoint = path.StartsWith("/app/", StringComparison.Ordinal) || path == "/app";
            if (!isAppEndpoint && (token is null || !sim.IsValidToken(token)))
            {
                await Error(ctx, 401, "Bad credentials").ConfigureAwait(false);
                return;
            }

            var taken = sim.TakeFault(ctx.Request.Method, path);
            if (taken is { AfterWork: true } lost)
            {
                // Do the work, then lose the answer: the caller sees only the error.
                var original = ctx.Response.Body;
                ctx.Response.Body = Stream.Null;
                await next(ctx).ConfigureAwait(false);
                ctx.Response.Body = original;
                ctx.Response.Headers.Clear();
                await Error(ctx, lost.Status, "Server Error").ConfigureAwait(false);
                return;
            }
            else if (taken is { } fault)
            {
                if (fault.ExhaustRateLimit && token is not null)
                {
                    sim.ExhaustRateLimit(token);
                }
                else
                {
                    if (fault.RetryAfterSeconds is { } ra)
                    {
                        ctx.Response.Headers.RetryAfter = ra.ToString(CultureInfo.InvariantCulture);
                    }

                    if (fault.Status is 403 or 429 && token is not null)
                    {
                        // A secondary limit is not the primary one: x-ratelimit-remaining stays above 0, and GitHub
                        // may send no retry-after at all (docs, "Rate limits for the REST API": "Otherwise, wait for
                        // at least one minute before retrying").
                        WriteRate(ctx, sim.PeekRate(token));
                    }

                    await Error(ctx, fault.Status, fault.Status is 403 or 429
                        ? "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                        : "Server Error", fault.Status is 403 or 429
                        ? "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits" : null).ConfigureAwait(false);
                    return;
                }
            }

            if (token is not null && !isAppEndpoint)
            {
                var rate = sim.PeekRate(token);
                if (rate.Remaining <= 0)
                {
                    WriteRate(ctx, rate);
                    await Error(ctx, 403, $"API rate limit exceeded for token.", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-rate-limit").ConfigureAwait(false);
                    return;
                }

                ctx.Items[TokenKey] = token;
            }

            if (!HttpMethods.IsGet(ctx.Request.Method) && !HttpMethods.IsHead(ctx.Request.Method))
            {
                sim.CountWrite();
            }

            await next(ctx).ConfigureAwait(false);
        });

    private static void MapRest(IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        MapRateLimit(app, sim);
        MapRuns(app, sim);
        MapRunners(app, sim);
        MapApps(app, sim);
    }

    // ---------------------------------------------------------------- helpers

    private static string Token(HttpContext ctx) => ctx.Items[TokenKey] as string ?? string.Empty;

    private static void Charge(HttpContext ctx, GitHubSimulator sim) => WriteRate(ctx, sim.Charge(Token(ctx), charge: true));

    /// <summary>Answers with an ETag; a matching If-None-Match gets a free 304, as on GitHub.</summary>
    private static IResult Respond(HttpContext ctx, GitHubSimulator sim, JsonNode body, string? links = null)
    {
        var json = body.ToJsonString();
        var etag = "W/\"" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..32] + "\"";
        ctx.Response.Headers.ETag = etag;
        if (links is not null)
        {
            ctx.Response.Headers.Link = links;
        }

        if (ctx.Request.Headers.IfNoneMatch.Any(v => v is not null && (v == etag || v == etag[2..])))
        {
            WriteRate(ctx, sim.Charge(Token(ctx), charge: false));
            return Results.StatusCode(304);
        }

        Charge(ctx, sim);
        return Results.Text(json, "application/json; charset=utf-8");
    }

    private static IResult NotFound(HttpContext ctx, GitHubSimulator sim)
    {
        Charge(ctx, sim);
        return ErrorResult(404, "Not Found");
    }

    private static (IReadOnlyList<T> Page, string? Links) Paginate<T>(HttpContext ctx, IReadOnlyList<T> all)
    {
        var perPage = int.TryParse(ctx.Request.Query["per_page"], CultureInfo.InvariantCulture, out var pp) ? Math.Clamp(pp, 1, 100) : 30;
        var page = int.TryParse(ctx.Request.Query["page"], CultureInfo.InvariantCulture, out var p) ? Math.Max(1, p) : 1;
        var last = Math.Max(1, (all.Count + perPage - 1) / perPage);
        string? links = null;
        if (page < last)
        {
            var baseUrl = $"{ctx.Request.Scheme}://{ctx.Request.Host}{ctx.Request.Path}";
            var query = System.Web.HttpUtility.ParseQueryString(ctx.Request.QueryString.Value ?? string.Empty);
            query["per_page"] = perPage.ToString(CultureInfo.InvariantCulture);
            query["page"] = (page + 1).ToString(CultureInfo.InvariantCulture);
            var next = $"<{baseUrl}?{query}>; rel=\"next\"";
            query["page"] = last.ToString(CultureInfo.InvariantCulture);
            links = $"{next}, <{baseUrl}?{query}>; rel=\"last\"";
        }

        return ([.. all.Skip((page - 1) * perPage).Take(perPage)], links);
    }

    private static void WriteRate(HttpContext ctx, RateState rate)
    {
        var h = ctx.Response.Headers;
        h["x-ratelimit-limit"] = rate.Limit.ToString(CultureInfo.InvariantCulture);
        h["x-ratelimit-remaining"] = rate.Remaining.ToString(CultureInfo.InvariantCulture);
        h["x-ratelimit-used"] = rate.Used.ToString(CultureInfo.InvariantCulture);
        h["x-ratelimit-reset"] = rate.Reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        h["x-ratelimit-resource"] = "core";
    }

    private static Task Error(HttpContext ctx, int status, string message, string? docs = null)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        return ctx.Response.WriteAsync(new JsonObject
        {
            ["message"] = message,
            ["documentation_url"] = docs ?? "https://docs.github.com/rest",
            ["status"] = status.ToString(CultureInfo.InvariantCulture),
        }.ToJsonString());
    }

    private static IResult ErrorResult(int status, string message) =>
        Results.Text(new JsonObject { ["message"] = message, ["documentation_url"] = "https://docs.github.com/rest", ["status"] = status.ToString(CultureInfo.InvariantCulture) }.ToJsonString(),
            "application/json; charset=utf-8", statusCode: status);
}
