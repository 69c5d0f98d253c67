using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>Self-hosted runners of the REST API, for a repository or an organization: list, get, delete, registration token, JIT config.</summary>
public static partial class GitHubSimulatorEndpoints
{
    private static void MapRunners(IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        foreach (var prefix in new[] { "/repos/{owner}/{repo}", "/orgs/{owner}" })
        {
            app.MapGet(prefix + "/actions/runners", (HttpContext ctx, string owner, string? repo, string? name) =>
            {
                if (ScopeOf(sim, owner, repo) is not { } scope)
                {
                    return NotFound(ctx, sim);
                }

                var runners = sim.Runners(scope).Where(r => name is null || string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
                var (page, links) = Paginate(ctx, runners);
                var body = sim.Read(() => new JsonObject { ["total_count"] = runners.Count, ["runners"] = new JsonArray([.. page.Select(x => (JsonNode)SimJson.Runner(x, sim.IsOnline(x)))]) });
                return Respond(ctx, sim, body, links);
            });

            // "List runner applications": the current release per OS and architecture. Archives are served by the
            // simulator itself (where runners reach it); GitHub's point at github.com/actions/runner/releases.
            app.MapGet(prefix + "/actions/runners/downloads", (HttpContext ctx, string owner, string? repo) =>
            {
                if (ScopeOf(sim, owner, repo) is null)
                {
                    return NotFound(ctx, sim);
                }

                var baseUrl = (sim.Options.RunnerBaseUrl ?? $"{ctx.Request.Scheme}://{ctx.Request.Host}").TrimEnd('/');
                var body = new JsonArray([.. new[] { ("osx", "x64"), ("osx", "arm64"), ("linux", "x64"), ("linux", "arm"), ("linux", "arm64"), ("win", "x64"), ("win", "arm64") }
                    .Select(p => (JsonNode)new JsonObject
                    {
                        ["os"] = p.Item1,
                        ["architecture"] = p.Item2,
                        ["download_url"] = $"{baseUrl}/_runner/downloads/{SimRunnerRelease.FileName(p.Item1, p.Item2)}",
                        ["filename"] = SimRunnerRelease.FileName(p.Item1, p.Item2),
                        ["sha256_checksum"] = SimRunnerRelease.Sha256,
                    })]);
                return Respond(ctx, sim, body);
            });

            app.MapGet(prefix + "/actions/runners/{runnerId:long}", (HttpContext ctx, string owner, string? repo, long runnerId) =>
                ScopeOf(sim, owner, repo) is { } scope && sim.FindRunner(scope, runnerId) is { } runner
                    ? Respond(ctx, sim, sim.Read(() => SimJson.Runner(runner, sim.IsOnline(runner))))
                    : NotFound(ctx, sim));

            app.MapDelete(prefix + "/actions/runners/{runnerId:long}", (HttpContext ctx, string owner, string? repo, long runnerId) =>
            {
                if (ScopeOf(sim, owner, repo) is not { } scope)
                {
                    return NotFound(ctx, sim);
                }

                Charge(ctx, sim);
                return sim.DeleteRunner(scope, runnerId) switch
                {
                    GitHubSimulator.DeleteResult.Deleted => Results.NoContent(),
                    GitHubSimulator.DeleteResult.Busy => ErrorResult(422, "Bad request - Runner \"" + runnerId + "\" is still running a job\""),
                    _ => ErrorResult(404, "Not Found"),
                };
            });

            app.MapPost(prefix + "/actions/runners/registration-token", (HttpContext ctx, string owner, string? repo) =>
            {
                if (ScopeOf(sim, owner, repo) is null)
                {
                    return NotFound(ctx, sim);
                }

                Charge(ctx, sim);
                var (token, expires) = sim.CreateRegistrationToken();
                return Results.Text(new JsonObject { ["token"] = token, ["expires_at"] = SimJson.Time(expires) }.ToJsonString(), "application/json", statusCode: 201);
            });

            app.MapPost(prefix + "/actions/runners/generate-jitconfig", async (HttpContext ctx, string owner, string? repo) =>
            {
                if (ScopeOf(sim, owner, repo) is not { } scope)
                {
                    return NotFound(ctx, sim);
                }

                Charge(ctx, sim);
                JitRequest? request;
                try
                {
                    request = await JsonSerializer.DeserializeAsync<JitRequest>(ctx.Request.Body, SimJson.Options, ctx.RequestAborted).ConfigureAwait(false);
                }
                catch (JsonException)
                {
                    return ErrorResult(400, "Problems parsing JSON");
                }

                var (result, runner, message) = sim.RegisterJitRunner(scope, request?.Name, request?.RunnerGroupId, request?.Labels);
                if (result == GitHubSimulator.JitResult.Conflict)
                {
                    return ErrorResult(409, message!);
                }

                if (result == GitHubSimulator.JitResult.Invalid)
                {
                    return ErrorResult(422, message!);
                }

                var baseUrl = $"{ctx.Request.Scheme}://{ctx.Request.Host}";
                var body = sim.Read(() => new JsonObject
                {
                    ["runner"] = SimJson.Runner(runner!, false),
                    ["encoded_jit_config"] = sim.EncodeJitConfig(runner!, baseUrl),
                });
                return Results.Text(body.ToJsonString(), "application/json", statusCode: 201);
            });
        }
    }

    // ---------------------------------------------------------------- helpers

    private static string? ScopeOf(GitHubSimulator sim, string owner, string? repo)
    {
        if (repo is null)
        {
            // An organization exists once one of its repositories does.
            return sim.Repositories().Any(r => string.Equals(r.Owner, owner, StringComparison.OrdinalIgnoreCase)) ? owner : null;
        }

        return sim.FindRepository(owner, repo)?.FullName;
    }

    private sealed record JitRequest(string? Name, long? RunnerGroupId, List<string>? Labels, string? WorkFolder);
}
