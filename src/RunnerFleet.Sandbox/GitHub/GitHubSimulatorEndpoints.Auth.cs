using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>The rate-limit endpoint and GitHub App installation tokens (authenticated by the app's JWT).</summary>
public static partial class GitHubSimulatorEndpoints
{
    private static void MapRateLimit(IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        app.MapGet("/rate_limit", (HttpContext ctx) =>
        {
            var rate = sim.PeekRate(Token(ctx));
            WriteRate(ctx, rate);
            var core = new JsonObject { ["limit"] = rate.Limit, ["remaining"] = rate.Remaining, ["used"] = rate.Used, ["reset"] = rate.Reset.ToUnixTimeSeconds() };
            return Results.Text(new JsonObject { ["resources"] = new JsonObject { ["core"] = core }, ["rate"] = core.DeepClone() }.ToJsonString(), "application/json");
        });
    }

    private static void MapApps(IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        app.MapPost("/app/installations/{installationId:long}/access_tokens", (HttpContext ctx, long installationId) =>
        {
            var auth = ctx.Request.Headers.Authorization.ToString();
            if (!auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return ErrorResult(401, "A JSON web token could not be decoded");
            }

            var (appId, error) = sim.VerifyAppJwt(auth[7..].Trim());
            if (appId is null)
            {
                return ErrorResult(401, error!);
            }

            if (sim.CreateInstallationToken(appId.Value, installationId) is not { } token)
            {
                return ErrorResult(404, "Not Found");
            }

            return Results.Text(new JsonObject
            {
                ["token"] = token.Token,
                ["expires_at"] = SimJson.Time(token.ExpiresAt),
                ["permissions"] = new JsonObject { ["actions"] = "read", ["administration"] = "write" },
                ["repository_selection"] = "all",
            }.ToJsonString(), "application/json", statusCode: 201);
        });
    }
}
