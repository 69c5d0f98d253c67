using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>Repositories, workflow runs and jobs of the REST API: get a repository, list and get runs, cancel a run, list a run's jobs, get a job.</summary>
public static partial class GitHubSimulatorEndpoints
{
    private static void MapRuns(IEndpointRouteBuilder app, GitHubSimulator sim)
    {
        // GET /repos/{owner}/{repo} ("Get a repository", GitHub REST docs): 404 for one the token cannot see.
        app.MapGet("/repos/{owner}/{repo}", (HttpContext ctx, string owner, string repo) =>
            sim.FindRepository(owner, repo) is { } r ? Respond(ctx, sim, sim.Read(() => SimJson.Repository(r)), null) : NotFound(ctx, sim));

        // GET /repos/{owner}/{repo}/compare/{basehead} ("Compare two commits", GitHub REST docs): here only base = the
        // default branch and head = a commit sha; status identical, behind (head is in base's history) or diverged.
        app.MapGet("/repos/{owner}/{repo}/compare/{basehead}", (HttpContext ctx, string owner, string repo, string basehead) =>
        {
            if (sim.FindRepository(owner, repo) is not { } r || basehead.Split("...") is not [var @base, var head] || @base != SimRepository.DefaultBranch
                || sim.CompareWithDefaultBranch(r, head) is not { } status)
            {
                return NotFound(ctx, sim);
            }

            return Respond(ctx, sim, new JsonObject
            {
                ["status"] = status,
                ["ahead_by"] = status == "diverged" ? 1 : 0,
                ["behind_by"] = status == "identical" ? 0 : 1,
                ["total_commits"] = status == "diverged" ? 1 : 0,
            }, null);
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
    }
}
