using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>
/// Maps GitHub's REST endpoints (as RunnerFleet uses them), the runner's own protocol (<c>/_runner</c>)
/// and the sandbox control API (<c>/_sandbox</c>) onto a <see cref="GitHubSimulator"/>.
/// </summary>
public static class GitHubSimulatorEndpoints
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
            // The Actions service (/_actions, scale sets) and its registration check their own credentials.
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

            if (sim.TakeFault(ctx.Request.Method, path) is { } fault)
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

            await next(ctx).ConfigureAwait(false);
        });

    private static void MapRest(IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        app.MapGet("/rate_limit", (HttpContext ctx) =>
        {
            var rate = sim.PeekRate(Token(ctx));
            WriteRate(ctx, rate);
            var core = new JsonObject { ["limit"] = rate.Limit, ["remaining"] = rate.Remaining, ["used"] = rate.Used, ["reset"] = rate.Reset.ToUnixTimeSeconds() };
            return Results.Text(new JsonObject { ["resources"] = new JsonObject { ["core"] = core }, ["rate"] = core.DeepClone() }.ToJsonString(), "application/json");
        });

        app.MapGet("/repos/{owner}/{repo}/actions/runs", (HttpContext ctx, string owner, string repo, string? status) =>
        {
            if (sim.FindRepository(owner, repo) is not { } r)
            {
                return NotFound(ctx, sim);
            }

            var runs = sim.Runs(r, status);
            var (page, links) = Paginate(ctx, runs);
            var body = sim.Read(() => new JsonObject { ["total_count"] = runs.Count, ["workflow_runs"] = new JsonArray([.. page.Select(x => (JsonNode)SimJson.Run(x))]) });
            return Respond(ctx, sim, body, links);
        });

        app.MapGet("/repos/{owner}/{repo}/actions/runs/{runId:long}", (HttpContext ctx, string owner, string repo, long runId) =>
        {
            if (sim.FindRepository(owner, repo) is not { } r || sim.Run(runId) is not { } run || run.Repository != r)
            {
                return NotFound(ctx, sim);
            }

            return Respond(ctx, sim, sim.Read(() => SimJson.Run(run)), null);
        });

        app.MapPost("/repos/{owner}/{repo}/actions/runs/{runId:long}/cancel", (HttpContext ctx, string owner, string repo, long runId) =>
        {
            if (sim.FindRepository(owner, repo) is not { } r || sim.Run(runId) is not { } run || run.Repository != r)
            {
                return NotFound(ctx, sim);
            }

            return sim.CancelRun(run)
                ? Results.Json(new JsonObject(), statusCode: 202)
                : Results.Json(new { message = "Cannot cancel a workflow run that is completed.", documentation_url = "https://docs.github.com/rest/actions/workflow-runs#cancel-a-workflow-run" }, statusCode: 409);
        });

        app.MapGet("/repos/{owner}/{repo}/actions/runs/{runId:long}/jobs", (HttpContext ctx, string owner, string repo, long runId) =>
        {
            if (sim.FindRepository(owner, repo) is not { } r || sim.Run(runId) is not { } run || run.Repository != r)
            {
                return NotFound(ctx, sim);
            }

            var jobs = sim.Read(() => run.Jobs.ToList());
            var (page, links) = Paginate(ctx, jobs);
            var body = sim.Read(() => new JsonObject { ["total_count"] = jobs.Count, ["jobs"] = new JsonArray([.. page.Select(x => (JsonNode)SimJson.Job(x))]) });
            return Respond(ctx, sim, body, links);
        });

        app.MapGet("/repos/{owner}/{repo}/actions/jobs/{jobId:long}", (HttpContext ctx, string owner, string repo, long jobId) =>
        {
            if (sim.FindRepository(owner, repo) is not { } r || sim.Job(jobId) is not { } job || job.Run.Repository != r)
            {
                return NotFound(ctx, sim);
            }

            return Respond(ctx, sim, sim.Read(() => SimJson.Job(job)));
        });

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

    private static void MapRunnerProtocol(IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        // The runner's side. Plain "key=value" lines keep the busybox runner free of a JSON parser.
        app.MapPost("/_runner/register", async (HttpContext ctx) =>
        {
            var form = await ReadKeyValuesAsync(ctx).ConfigureAwait(false);
            var url = form.GetValueOrDefault("url") ?? string.Empty;
            var scope = Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.AbsolutePath.Trim('/') : url.Trim('/');
            var labels = (form.GetValueOrDefault("labels") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var (runner, status, error) = sim.ConfigureRunner(form.GetValueOrDefault("token") ?? string.Empty, scope,
                form.GetValueOrDefault("name") ?? string.Empty, labels, form.GetValueOrDefault("ephemeral") is "true" or "1",
                defaultLabels: form.GetValueOrDefault("no_default_labels") is not ("true" or "1"));
            return runner is null
                ? Results.Text($"error={error}\n", "text/plain", statusCode: status)
                : Results.Text($"runner_id={runner.Id}\nname={runner.Name}\ncredential={runner.Credential}\n", "text/plain", statusCode: 201);
        });

        app.MapPost("/_runner/session", async (HttpContext ctx) =>
        {
            if (await RunnerOf(ctx, sim).ConfigureAwait(false) is not { } runner)
            {
                return Results.Text("error=unauthorized\n", "text/plain", statusCode: 401);
            }

            sim.OpenSession(runner);
            return Results.Text("ok\n", "text/plain");
        });

        app.MapPost("/_runner/acquire", async (HttpContext ctx) =>
        {
            if (await RunnerOf(ctx, sim).ConfigureAwait(false) is not { } runner)
            {
                return Results.Text("error=unauthorized\n", "text/plain", statusCode: 401);
            }

            var job = await sim.AcquireJobAsync(runner, sim.Options.AcquireWait, ctx.RequestAborted).ConfigureAwait(false);
            return job is null
                ? Results.Text("none\n", "text/plain")
                : Results.Text(string.Create(CultureInfo.InvariantCulture, $"job_id={job.Id}\nduration={(int)Math.Ceiling(job.Duration.TotalSeconds)}\nduration_ms={(long)job.Duration.TotalMilliseconds}\n"), "text/plain");
        });

        app.MapPost("/_runner/complete", async (HttpContext ctx) =>
        {
            var form = await ReadKeyValuesAsync(ctx).ConfigureAwait(false);
            if (Authenticate(sim, form) is not { } runner || !long.TryParse(form.GetValueOrDefault("job_id"), CultureInfo.InvariantCulture, out var jobId))
            {
                return Results.Text("error=unauthorized\n", "text/plain", statusCode: 401);
            }

            return sim.CompleteJob(runner, jobId, form.GetValueOrDefault("conclusion") ?? "success", form.GetValueOrDefault("machine"))
                ? Results.Text("ok\n", "text/plain")
                : Results.Text("error=not your job\n", "text/plain", statusCode: 409);
        });

        app.MapPost("/_runner/session/delete", async (HttpContext ctx) =>
        {
            // As GitHub does, a runner already de-registered after its job gets 401 here, and ignores it.
            if (await RunnerOf(ctx, sim).ConfigureAwait(false) is not { } runner)
            {
                return Results.Text("error=unauthorized\n", "text/plain", statusCode: 401);
            }

            sim.CloseSession(runner);
            return Results.Text("ok\n", "text/plain");
        });
    }

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

    private static string? ScopeOf(GitHubSimulator sim, string owner, string? repo)
    {
        if (repo is null)
        {
            // An organization exists once one of its repositories does.
            return sim.Repositories().Any(r => string.Equals(r.Owner, owner, StringComparison.OrdinalIgnoreCase)) ? owner : null;
        }

        return sim.FindRepository(owner, repo)?.FullName;
    }

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

    private static async Task<Dictionary<string, string>> ReadKeyValuesAsync(HttpContext ctx)
    {
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(ctx.RequestAborted).ConfigureAwait(false);
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in text.Split(['\n', '&'], StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                values[line[..eq].Trim()] = Uri.UnescapeDataString(line[(eq + 1)..].Trim());
            }
        }

        return values;
    }

    private static async Task<SimRunner?> RunnerOf(HttpContext ctx, GitHubSimulator sim) =>
        Authenticate(sim, await ReadKeyValuesAsync(ctx).ConfigureAwait(false));

    private static SimRunner? Authenticate(GitHubSimulator sim, Dictionary<string, string> form) =>
        long.TryParse(form.GetValueOrDefault("runner_id"), CultureInfo.InvariantCulture, out var id) ? sim.Authenticate(id, form.GetValueOrDefault("credential")) : null;

    private sealed record JitRequest(string? Name, long? RunnerGroupId, List<string>? Labels, string? WorkFolder);

    private sealed record SandboxJobRequest(string? Repository, List<string>? Labels, int Count = 1, double DurationSeconds = 3, string? Workflow = null, string? Event = null, string? HeadRepository = null);
}
