using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>The runner's own protocol under <c>/_runner</c>: registration, sessions, acquiring and completing jobs.</summary>
public static partial class GitHubSimulatorEndpoints
{
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

        app.MapGet("/_runner/downloads/{file}", (string file) => file.StartsWith("actions-runner-", StringComparison.Ordinal)
            ? Results.Bytes(SimRunnerRelease.Archive, "application/gzip")
            : Results.NotFound());

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
                : Results.Text(string.Create(CultureInfo.InvariantCulture, $"job_id={job.Id}\nduration={(int)Math.Ceiling(job.Duration.TotalSeconds)}\nduration_ms={(long)job.Duration.TotalMilliseconds}\n" +
                    // The job message's github context: event name, repository, and the event payload (base64, one line).
                    $"event_name={job.Run.Event}\nrepository={job.Run.Repository.FullName}\nevent={Convert.ToBase64String(Encoding.UTF8.GetBytes(SimJson.EventPayload(job.Run).ToJsonString()))}\n") +
                    // The job's steps, when the test gave it some (a simulator convention: real jobs arrive as an encrypted job message).
                    (job.Script is { } script ? $"script={Convert.ToBase64String(Encoding.UTF8.GetBytes(script))}\n" : ""), "text/plain");
        });

        app.MapPost("/_runner/complete", async (HttpContext ctx) =>
        {
            var form = await ReadKeyValuesAsync(ctx).ConfigureAwait(false);
            if (Authenticate(sim, form) is not { } runner || !long.TryParse(form.GetValueOrDefault("job_id"), CultureInfo.InvariantCulture, out var jobId))
            {
                return Results.Text("error=unauthorized\n", "text/plain", statusCode: 401);
            }

            var output = form.GetValueOrDefault("output") is { Length: > 0 } encoded ? Encoding.UTF8.GetString(Convert.FromBase64String(encoded)) : null;
            return sim.CompleteJob(runner, jobId, form.GetValueOrDefault("conclusion") ?? "success", form.GetValueOrDefault("machine"), stepsRan: form.GetValueOrDefault("steps") is not "skipped", output)
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

    // ---------------------------------------------------------------- helpers

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
}
