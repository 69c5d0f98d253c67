using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>Renders simulator state in GitHub's REST and webhook shapes (GitHub's REST docs; the webhook examples in tests/…/TestData/github-webhooks).</summary>
internal static class SimJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    private const string Api = "https://api.github.com";

    public static JsonObject Repository(SimRepository r) => new()
    {
        ["id"] = r.Id,
        ["node_id"] = $"R_{r.Id}",
        ["name"] = r.Name,
        ["full_name"] = r.FullName,
        ["private"] = r.Private,
        ["owner"] = Owner(r.Owner),
        ["html_url"] = $"https://github.com/{r.FullName}",
        ["fork"] = false,
        ["url"] = $"{Api}/repos/{r.FullName}",
        ["default_branch"] = SimRepository.DefaultBranch,
        ["visibility"] = r.Private ? "private" : "public",
    };

    public static JsonObject Owner(string login) => new()
    {
        ["login"] = login,
        ["id"] = Math.Abs(login.GetHashCode(StringComparison.Ordinal)),
        ["type"] = "Organization",
        ["site_admin"] = false,
    };

    public static JsonObject Run(SimWorkflowRun run) => new()
    {
        ["id"] = run.Id,
        ["name"] = run.Name,
        ["node_id"] = $"WFR_{run.Id}",
        ["head_branch"] = run.HeadBranch,
        ["head_sha"] = run.HeadSha,
        ["path"] = ".github/workflows/ci.yml",
        ["display_title"] = run.Name,
        ["run_number"] = run.Id,
        ["event"] = run.Event,
        ["status"] = run.Status,
        ["conclusion"] = run.Conclusion,
        ["workflow_id"] = 1,
        ["check_suite_id"] = run.Id,
        ["url"] = $"{Api}/repos/{run.Repository.FullName}/actions/runs/{run.Id}",
        ["html_url"] = $"https://github.com/{run.Repository.FullName}/actions/runs/{run.Id}",
        ["pull_requests"] = new JsonArray(),
        ["created_at"] = Time(run.CreatedAt),
        ["updated_at"] = Time(run.UpdatedAt),
        ["run_attempt"] = 1,
        ["run_started_at"] = Time(run.StartedAt ?? run.CreatedAt),
        ["jobs_url"] = $"{Api}/repos/{run.Repository.FullName}/actions/runs/{run.Id}/jobs",
        ["repository"] = Repository(run.Repository),
        ["head_repository"] = run.HeadRepository is { } fork ? Fork(fork, run.Repository) : Repository(run.Repository),
    };

    /// <summary>
    /// The webhook event payload the runner writes to <c>GITHUB_EVENT_PATH</c> for the job's steps and hooks
    /// (actions/runner: the job message's <c>github.event</c>). For <c>pull_request*</c> events it carries
    /// <c>pull_request.head.repo</c> (the fork, for a pull request from a fork) and <c>pull_request.base.repo</c>,
    /// as GitHub's "pull_request" webhook payload does (docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request);
    /// other events carry the repository and ref.
    /// </summary>
    public static JsonObject EventPayload(SimWorkflowRun run)
    {
        var payload = new JsonObject { ["repository"] = Repository(run.Repository), ["sender"] = new JsonObject { ["login"] = run.Repository.Owner, ["type"] = "User" } };
        if (run.Event.StartsWith("pull_request", StringComparison.Ordinal))
        {
            payload["action"] = "synchronize";
            payload["number"] = 1;
            payload["pull_request"] = new JsonObject
            {
                ["number"] = 1,
                ["state"] = "open",
                ["head"] = new JsonObject { ["ref"] = "feature", ["sha"] = run.HeadSha, ["repo"] = run.HeadRepository is { } fork ? Fork(fork, run.Repository) : Repository(run.Repository) },
                ["base"] = new JsonObject { ["ref"] = "main", ["repo"] = Repository(run.Repository) },
            };
        }
        else
        {
            payload["ref"] = "refs/heads/main";
            payload["after"] = run.HeadSha;
        }

        return payload;
    }

    /// <summary>A fork's repository object, as a run's head_repository.</summary>
    private static JsonObject Fork(string fullName, SimRepository parent)
    {
        var o = Repository(new SimRepository(Math.Abs(fullName.GetHashCode(StringComparison.Ordinal)), fullName.Split('/')[0], fullName.Split('/')[^1], parent.Private));
        o["fork"] = true;
        return o;
    }

    public static JsonObject Job(SimJob job)
    {
        var repo = job.Run.Repository.FullName;
        return new JsonObject
        {
            ["id"] = job.Id,
            ["run_id"] = job.Run.Id,
            ["run_url"] = $"{Api}/repos/{repo}/actions/runs/{job.Run.Id}",
            ["run_attempt"] = 1,
            ["node_id"] = $"CR_{job.Id}",
            ["head_sha"] = job.Run.HeadSha,
            ["head_branch"] = job.Run.HeadBranch,
            ["url"] = $"{Api}/repos/{repo}/actions/jobs/{job.Id}",
            ["html_url"] = $"https://github.com/{repo}/actions/runs/{job.Run.Id}/job/{job.Id}",
            ["status"] = job.Status,
            ["conclusion"] = job.Conclusion,
            ["created_at"] = Time(job.CreatedAt),
            ["started_at"] = Time(job.StartedAt ?? job.CreatedAt),
            ["completed_at"] = job.CompletedAt is { } c ? Time(c) : null,
            ["name"] = job.Name,
            ["steps"] = new JsonArray(),
            ["check_run_url"] = $"{Api}/repos/{repo}/check-runs/{job.Id}",
            ["labels"] = new JsonArray([.. job.Labels.Select(l => (JsonNode)JsonValue.Create(l))]),
            ["runner_id"] = job.RunnerId,
            ["runner_name"] = job.RunnerName,
            ["runner_group_id"] = job.RunnerId is null ? null : 1,
            ["runner_group_name"] = job.RunnerId is null ? null : "Default",
            ["workflow_name"] = job.Run.Name,
        };
    }

    public static JsonObject Runner(SimRunner r, bool online) => new()
    {
        ["id"] = r.Id,
        ["name"] = r.Name,
        ["os"] = "linux",
        ["status"] = online ? "online" : "offline",
        ["busy"] = r.Busy,
        ["ephemeral"] = r.Ephemeral,
        ["runner_group_id"] = r.RunnerGroupId,
        ["labels"] = new JsonArray([.. r.Labels.Select((l, i) => (JsonNode)new JsonObject
        {
            ["id"] = i + 1,
            ["name"] = l,
            ["type"] = l is "self-hosted" or "linux" or "x64" or "arm64" ? "read-only" : "custom",
        })]),
    };

    public static JsonObject Webhook(string action, SimJob job) => new()
    {
        ["action"] = action,
        ["workflow_job"] = Job(job),
        ["repository"] = Repository(job.Run.Repository),
        ["organization"] = new JsonObject { ["login"] = job.Run.Repository.Owner, ["id"] = Math.Abs(job.Run.Repository.Owner.GetHashCode(StringComparison.Ordinal)) },
        ["sender"] = Owner("octocat"),
    };

    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
