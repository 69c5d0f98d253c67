using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>The sandbox control API under <c>/_sandbox</c>: repositories, queued jobs, runners, webhooks, tokens, apps, faults, stats.</summary>
public static partial class GitHubSimulatorEndpoints
{
    private static void MapSandboxControl(IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        app.MapPost("/_sandbox/repos", async (HttpContext ctx) =>
        {
            var node = await ReadJsonAsync(ctx).ConfigureAwait(false);
            var name = node?["repository"]?.GetValue<string>();
            if (name is null || name.Split('/').Length != 2)
            {
                return Results.BadRequest(new { error = "repository must be owner/repo" });
            }

            var repo = sim.EnsureRepository(name, node?["private"]?.GetValue<bool>() ?? false);
            return Results.Text(SimJson.Repository(repo).ToJsonString(), "application/json", statusCode: 201);
        });

        app.MapPost("/_sandbox/jobs", async (HttpContext ctx) =>
        {
            SandboxJobRequest? request;
            try
            {
                request = await JsonSerializer.DeserializeAsync<SandboxJobRequest>(ctx.Request.Body, SimJson.Options, ctx.RequestAborted).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                return Results.BadRequest(new { error = e.Message });
            }

            if (request?.Repository is null || request.Repository.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
            {
                return Results.BadRequest(new { error = "repository must be owner/repo" });
            }

            if (request.Labels is not { Count: > 0 } || request.Count is < 1 or > 1000 || request.DurationSeconds is < 0 or > 86400)
            {
                return Results.BadRequest(new { error = "labels must be non-empty, count 1..1000, durationSeconds 0..86400" });
            }

            if (request.HeadRepository is not null && request.HeadRepository.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
            {
                return Results.BadRequest(new { error = "headRepository must be owner/repo" });
            }

            var run = sim.QueueJobs(request.Repository, request.Labels, request.Count, TimeSpan.FromSeconds(request.DurationSeconds), request.Workflow, request.Event, request.HeadRepository);
            return Results.Json(new { runId = run.Id, jobIds = run.Jobs.Select(j => j.Id).ToArray() }, statusCode: 201);
        });

        app.MapGet("/_sandbox/jobs", () => Results.Text(sim.Read(() => new JsonArray([.. sim.AllJobs().Select(j =>
        {
            var o = SimJson.Job(j);
            o["repository"] = j.Run.Repository.FullName;
            o["assignments"] = j.Assignments;
            o["runner_machine"] = j.RunnerMachine;
            o["steps_ran"] = j.StepsRan;
            return (JsonNode)o;
        })]).ToJsonString()), "application/json"));

        app.MapGet("/_sandbox/runners", () => Results.Text(sim.Read(() => new JsonArray([.. sim.AllRunners().Select(r =>
        {
            var o = SimJson.Runner(r, sim.IsOnline(r));
            o["scope"] = r.Scope;
            o["job_id"] = r.Job?.Id;
            return (JsonNode)o;
        })]).ToJsonString()), "application/json"));

        app.MapPost("/_sandbox/webhooks", async (HttpContext ctx) =>
        {
            var node = await ReadJsonAsync(ctx).ConfigureAwait(false);
            if (!Uri.TryCreate(node?["url"]?.GetValue<string>(), UriKind.Absolute, out var url))
            {
                return Results.BadRequest(new { error = "url must be an absolute URL" });
            }

            sim.AddWebhook(url, node?["secret"]?.GetValue<string>());
            return Results.Created();
        });

        app.MapPost("/_sandbox/tokens", async (HttpContext ctx) =>
        {
            var token = (await ReadJsonAsync(ctx).ConfigureAwait(false))?["token"]?.GetValue<string>();
            if (string.IsNullOrWhiteSpace(token))
            {
                return Results.BadRequest(new { error = "token is required" });
            }

            sim.AddToken(token);
            return Results.Created();
        });

        app.MapPost("/_sandbox/apps", async (HttpContext ctx) =>
        {
            var node = await ReadJsonAsync(ctx).ConfigureAwait(false);
            try
            {
                sim.RegisterApp(node!["appId"]!.GetValue<long>(), node["installationId"]!.GetValue<long>(), node["publicKeyPem"]!.GetValue<string>());
                return Results.Created();
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or ArgumentException or CryptographicException or FormatException)
            {
                return Results.BadRequest(new { error = "appId, installationId and publicKeyPem (PEM) are required" });
            }
        });

        app.MapPost("/_sandbox/faults", async (HttpContext ctx) =>
        {
            var node = await ReadJsonAsync(ctx).ConfigureAwait(false);
            var prefix = node?["pathPrefix"]?.GetValue<string>();
            var status = node?["status"]?.GetValue<int>() ?? 0;
            var exhaust = node?["exhaustRateLimit"]?.GetValue<bool>() ?? false;
            if (prefix is null || (!exhaust && status is < 400 or > 599))
            {
                return Results.BadRequest(new { error = "pathPrefix and a status 400..599 (or exhaustRateLimit) are required" });
            }

            sim.AddFault(new SimFault
            {
                PathPrefix = prefix,
                Method = node?["method"]?.GetValue<string>(),
                Status = status,
                Count = node?["count"]?.GetValue<int>() ?? 1,
                RetryAfterSeconds = node?["retryAfterSeconds"]?.GetValue<int>(),
                ExhaustRateLimit = exhaust,
                AfterWork = node?["afterWork"]?.GetValue<bool>() ?? false,
            });
            return Results.Created();
        });

        app.MapGet("/_sandbox/stats", () => Results.Json(new
        {
            apiRequests = sim.ApiRequests,
            rateLimitedRequests = sim.RateLimitedRequests,
            notModified = sim.NotModifiedResponses,
            webhooksDelivered = sim.Webhooks.Delivered,
            webhooksFailed = sim.Webhooks.Failed,
            jobs = sim.Read(() => sim.AllJobs().GroupBy(j => j.Status).ToDictionary(g => g.Key, g => g.Count())),
            runners = sim.AllRunners().Count,
        }));
    }

    // ---------------------------------------------------------------- helpers

    private static async Task<JsonNode?> ReadJsonAsync(HttpContext ctx)
    {
        try
        {
            return await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed record SandboxJobRequest(string? Repository, List<string>? Labels, int Count = 1, double DurationSeconds = 3, string? Workflow = null, string? Event = null, string? HeadRepository = null);
}
