using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>
/// The runner scale-set protocol over HTTP, as actions/scaleset and actions-runner-controller speak it:
/// <c>POST /actions/runner-registration</c> (RemoteAuth registration token → Actions service URL and admin
/// token), then under <c>/_actions/_apis/</c> (Bearer admin token): runner groups, scale sets, sessions,
/// the message queue (Bearer queue token; 202 when nothing came within the poll wait), JIT configs and agents.
/// </summary>
public static class ScaleSetEndpoints
{
    private const string ActionsPrefix = "/_actions/";

    public static IEndpointRouteBuilder MapScaleSets(this IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        app.MapPost("/actions/runner-registration", async (HttpContext ctx) =>
        {
            var auth = ctx.Request.Headers.Authorization.ToString();
            var body = await ReadAsync(ctx).ConfigureAwait(false);
            var url = body?["url"]?.GetValue<string>();
            if (!auth.StartsWith("RemoteAuth ", StringComparison.Ordinal) || url is null || ScopeOf(url) is not { } scope)
            {
                return Message(400, "a RemoteAuth registration token and the url of a repository or organization are required");
            }

            return sim.RegisterActionsService(auth["RemoteAuth ".Length..].Trim(), scope) is { } admin
                ? Results.Json(new JsonObject { ["url"] = $"{Base(ctx)}{ActionsPrefix}", ["token"] = admin.Token })
                : Message(401, "the registration token is not valid or has expired");
        });

        var api = app.MapGroup("/_actions/_apis");
        api.MapGet("/runtime/runnergroups/", (HttpContext ctx, string? groupName) => WithScope(ctx, sim, _ =>
        {
            var groups = groupName is null || string.Equals(groupName, GitHubSimulator.DefaultGroup.Name, StringComparison.OrdinalIgnoreCase) ? [GitHubSimulator.DefaultGroup] : Array.Empty<SimRunnerGroup>();
            return List(groups.Select(g => (JsonNode)new JsonObject { ["id"] = g.Id, ["name"] = g.Name, ["size"] = 0, ["isDefaultGroup"] = g.IsDefault }));
        }));

        api.MapGet("/runtime/runnerscalesets", (HttpContext ctx, long? runnerGroupId, string? name) => WithScope(ctx, sim, scope =>
            List(sim.ScaleSets(scope, runnerGroupId, name).Select(s => (JsonNode)ScaleSet(s)))));

        api.MapGet("/runtime/runnerscalesets/{id:long}", (HttpContext ctx, long id) => WithScope(ctx, sim, scope =>
            sim.ScaleSet(scope, id) is { } s ? Results.Json(ScaleSet(s)) : Message(404, $"scale set {id} not found")));

        api.MapPost("/runtime/runnerscalesets", async (HttpContext ctx) =>
        {
            var body = await ReadAsync(ctx).ConfigureAwait(false);
            return WithScope(ctx, sim, scope =>
            {
                var name = body?["name"]?.GetValue<string>();
                var group = body?["runnerGroupId"]?.GetValue<long>() ?? GitHubSimulator.DefaultGroup.Id;
                var labels = body?["labels"]?.AsArray().Select(l => l?["name"]?.GetValue<string>()).OfType<string>().ToList() ?? [];
                if (string.IsNullOrWhiteSpace(name))
                {
                    return Message(400, "name is required");
                }

                return sim.CreateScaleSet(scope, name, group, labels) is { } s
                    ? Results.Json(ScaleSet(s))
                    : Message(409, $"a runner scale set named {name} already exists in runner group {group}");
            });
        });

        api.MapDelete("/runtime/runnerscalesets/{id:long}", (HttpContext ctx, long id) => WithScope(ctx, sim, scope =>
            sim.DeleteScaleSet(scope, id) ? Results.NoContent() : Message(404, $"scale set {id} not found")));

        api.MapPost("/runtime/runnerscalesets/{id:long}/generatejitconfig", async (HttpContext ctx, long id) =>
        {
            var body = await ReadAsync(ctx).ConfigureAwait(false);
            return WithScope(ctx, sim, scope =>
            {
                if (sim.ScaleSet(scope, id) is not { } set)
                {
                    return Message(404, $"scale set {id} not found");
                }

                var (result, runner, message) = sim.RegisterScaleSetRunner(set, body?["name"]?.GetValue<string>());
                return result switch
                {
                    GitHubSimulator.JitResult.Created => Results.Json(new JsonObject
                    {
                        ["runner"] = new JsonObject { ["id"] = runner!.Id, ["name"] = runner.Name, ["runnerScaleSetId"] = set.Id },
                        ["encodedJITConfig"] = sim.EncodeJitConfig(runner, Base(ctx)),
                    }),
                    GitHubSimulator.JitResult.Conflict => Exception(409, "AgentExistsException", message!),
                    _ => Message(400, message!),
                };
            });
        });

        api.MapPost("/runtime/runnerscalesets/{id:long}/sessions", async (HttpContext ctx, long id) =>
        {
            var body = await ReadAsync(ctx).ConfigureAwait(false);
            return WithScope(ctx, sim, scope =>
            {
                if (sim.ScaleSet(scope, id) is not { } set)
                {
                    return Message(404, $"scale set {id} not found");
                }

                var owner = body?["ownerName"]?.GetValue<string>() ?? "unknown";
                return sim.OpenSession(set, owner) is { } session
                    ? Results.Json(Session(ctx, sim, set, session))
                    // The scale-set service's own exception (not the runner protocol's TaskAgentSessionConflictException).
                    : Exception(409, "RunnerScaleSetSessionConflictException", $"The scale set {set.Name} already has an active session for owner {set.Session?.Owner}.", "GitHub.Actions.Runtime.WebApi");
            });
        });

        api.MapPatch("/runtime/runnerscalesets/{id:long}/sessions/{sessionId:guid}", (HttpContext ctx, long id, Guid sessionId) => WithScope(ctx, sim, scope =>
            sim.ScaleSet(scope, id) is { } set && sim.RefreshSession(set, sessionId) is { } session
                ? Results.Json(Session(ctx, sim, set, session))
                : Message(404, "session not found")));

        api.MapDelete("/runtime/runnerscalesets/{id:long}/sessions/{sessionId:guid}", (HttpContext ctx, long id, Guid sessionId) => WithScope(ctx, sim, scope =>
            sim.ScaleSet(scope, id) is not { } set ? Message(404, $"scale set {id} not found") : sim.CloseSession(set, sessionId) switch
            {
                GitHubSimulator.CloseOutcome.Closed => Results.NoContent(),
                // Deleting a session the service already ended: 400 (reference corrections; ARC closes on every exit and ignores it).
                GitHubSimulator.CloseOutcome.Expired => Exception(400, "RunnerScaleSetSessionExpiredException", $"The session {sessionId} has expired.", "GitHub.Actions.Runtime.WebApi"),
                _ => Message(404, "session not found"),
            }));

        // acquirejobs (actions/scaleset session_client.go AcquireJobs): the session's queue token, a JSON array of
        // runner request ids; the answer is {count, value:[acquired ids]}; 401 when the token expired.
        api.MapPost("/runtime/runnerscalesets/{id:long}/acquirejobs", async (HttpContext ctx, long id) =>
        {
            if (sim.AllScaleSets().FirstOrDefault(s => s.Id == id) is not { } set)
            {
                return Message(404, $"scale set {id} not found");
            }

            var body = await ReadAsync(ctx).ConfigureAwait(false);
            if (body is not JsonArray ids)
            {
                return Message(400, "the body must be a JSON array of runner request ids");
            }

            var requested = ids.Select(n => n?.GetValue<long>() ?? 0).ToList();
            return sim.AcquireJobs(set, Bearer(ctx) ?? string.Empty, requested) is { } acquired
                ? List(acquired.Select(a => (JsonNode)a))
                : Message(401, "the message queue token is not valid or has expired");
        });

        // The message queue authenticates with the session's queue token, not the admin token.
        api.MapGet("/runtime/runnerscalesets/{id:long}/sessions/{sessionId:guid}/messages", async (HttpContext ctx, long id, Guid sessionId, long? lastMessageId) =>
        {
            if (sim.AllScaleSets().FirstOrDefault(s => s.Id == id) is not { } set)
            {
                return Message(404, $"scale set {id} not found");
            }

            if (sim.TakeDroppedPoll())
            {
                // The connection drops mid-poll, as a proxy or a network blip would do it.
                ctx.Abort();
                return Results.Empty;
            }

            var token = Bearer(ctx) ?? string.Empty;
            var (outcome, message, statistics) = await sim.PollMessagesAsync(set, sessionId, token, lastMessageId ?? 0, ctx.RequestAborted).ConfigureAwait(false);
            return outcome switch
            {
                GitHubSimulator.PollOutcome.Message => Results.Json(new JsonObject
                {
                    ["messageId"] = message!.Id,
                    ["messageType"] = "RunnerScaleSetJobMessages",
                    ["body"] = message.Body,
                    ["statistics"] = statistics,
                }),
                GitHubSimulator.PollOutcome.Empty => Results.StatusCode(202),
                GitHubSimulator.PollOutcome.Unauthorized => Message(401, "the message queue token has expired"),
                _ => Message(404, "session not found"),
            };
        });

        api.MapDelete("/runtime/runnerscalesets/{id:long}/sessions/{sessionId:guid}/messages/{messageId:long}", (HttpContext ctx, long id, Guid sessionId, long messageId) =>
            sim.AllScaleSets().FirstOrDefault(s => s.Id == id) is { Session: { } session } set && session.Id == sessionId && Bearer(ctx) == session.QueueToken && sim.AcknowledgeMessage(set, messageId)
                ? Results.NoContent()
                : Message(404, "message not found"));

        api.MapGet("/distributedtask/pools/0/agents", (HttpContext ctx, string? agentName) => WithScope(ctx, sim, scope =>
            List(sim.ScaleSetRunners(scope, agentName).Select(r => (JsonNode)Agent(sim, r)))));

        api.MapGet("/distributedtask/pools/0/agents/{id:long}", (HttpContext ctx, long id) => WithScope(ctx, sim, scope =>
            sim.ScaleSetRunners(scope, null).FirstOrDefault(r => r.Id == id) is { } r ? Results.Json(Agent(sim, r)) : Message(404, $"agent {id} not found")));

        api.MapDelete("/distributedtask/pools/0/agents/{id:long}", (HttpContext ctx, long id) => WithScope(ctx, sim, scope =>
            sim.DeleteRunner(scope, id) switch
            {
                GitHubSimulator.DeleteResult.Deleted => Results.NoContent(),
                GitHubSimulator.DeleteResult.Busy => Exception(400, "JobStillRunningException", $"Agent {id} is running a job and cannot be deleted."),
                _ => Message(404, $"agent {id} not found"),
            }));

        return app;
    }

    /// <summary>"https://github.com/owner/repo" → "owner/repo"; "https://github.com/org" → "org".</summary>
    public static string? ScopeOf(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return null;
        }

        var parts = uri.AbsolutePath.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length switch
        {
            1 => parts[0],
            2 => $"{parts[0]}/{parts[1]}",
            _ => null,
        };
    }

    private static IResult WithScope(HttpContext ctx, GitHubSimulator sim, Func<string, IResult> handle) =>
        Bearer(ctx) is { } token && sim.AdminScope(token) is { } scope ? handle(scope) : Message(401, "the Actions service token is missing, not valid or expired");

    private static string? Bearer(HttpContext ctx)
    {
        var auth = ctx.Request.Headers.Authorization.ToString();
        return auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? auth[7..].Trim() : null;
    }

    private static string Base(HttpContext ctx) => $"{ctx.Request.Scheme}://{ctx.Request.Host}";

    private static async Task<JsonNode?> ReadAsync(HttpContext ctx)
    {
        try
        {
            return ctx.Request.ContentLength is 0 ? null : await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static IResult List(IEnumerable<JsonNode> items)
    {
        var array = new JsonArray([.. items]);
        return Results.Json(new JsonObject { ["count"] = array.Count, ["value"] = array });
    }

    private static JsonObject ScaleSet(SimScaleSet s) => new()
    {
        ["id"] = s.Id,
        ["name"] = s.Name,
        ["runnerGroupId"] = s.RunnerGroupId,
        ["runnerGroupName"] = GitHubSimulator.DefaultGroup.Name,
        ["labels"] = new JsonArray([.. s.Labels.Select(l => (JsonNode)new JsonObject { ["type"] = "System", ["name"] = l })]),
        ["runnerSetting"] = new JsonObject { ["ephemeral"] = true, ["disableUpdate"] = true },
        ["createdOn"] = s.CreatedAt.ToString("O", CultureInfo.InvariantCulture),
        ["statistics"] = null,
    };

    private static JsonObject Session(HttpContext ctx, GitHubSimulator sim, SimScaleSet set, SimScaleSetSession session) => new()
    {
        ["sessionId"] = session.Id.ToString(),
        ["ownerName"] = session.Owner,
        ["runnerScaleSet"] = ScaleSet(set),
        ["messageQueueUrl"] = $"{Base(ctx)}{ActionsPrefix}_apis/runtime/runnerscalesets/{set.Id}/sessions/{session.Id}/messages",
        ["messageQueueAccessToken"] = session.QueueToken,
        // The listener seeds its desired count from these (actions/scaleset listener.go: no statistics is an error).
        ["statistics"] = sim.Statistics(set),
    };

    private static JsonObject Agent(GitHubSimulator sim, SimRunner r) => new()
    {
        ["id"] = r.Id,
        ["name"] = r.Name,
        ["status"] = sim.IsOnline(r) ? "online" : "offline",
        ["busy"] = r.Busy,
        ["runnerScaleSetId"] = r.ScaleSetId,
        ["version"] = "2.330.0",
    };

    private static IResult Message(int status, string message) => Results.Json(new JsonObject { ["message"] = message }, statusCode: status);

    private static IResult Exception(int status, string typeName, string message, string ns = "GitHub.DistributedTask.WebApi") =>
        Results.Json(new JsonObject { ["$id"] = "1", ["message"] = message, ["typeName"] = $"{ns}.{typeName}, {ns}", ["typeKey"] = typeName, ["errorCode"] = 0 }, statusCode: status);
}
