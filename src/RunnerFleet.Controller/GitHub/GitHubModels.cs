using System.Text.Json.Serialization;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.GitHub;

// GitHub REST shapes, only the fields RunnerFleet reads (GitHub's REST docs and OpenAPI description, api.github.com 2022-11-28).

internal sealed record WorkflowRunList(int TotalCount, IReadOnlyList<WorkflowRun> WorkflowRuns);

internal sealed record WorkflowRun(long Id, string? Name, string? Status, string? Conclusion, DateTimeOffset? UpdatedAt, string? Event = null, RunRepository? Repository = null, RunRepository? HeadRepository = null, string? HeadBranch = null, string? HeadSha = null)
{
    public JobOrigin Origin => new(Event, HeadRepository?.FullName, Repository?.Private);
}

/// <summary>A run's repository or head repository (a fork's, for pull requests from forks).</summary>
internal sealed record RunRepository(string? FullName, bool? Private);

internal sealed record WorkflowJobList(int TotalCount, IReadOnlyList<WorkflowJob> Jobs);

/// <summary>A workflow job. <c>label_filters</c> is read too: the 2026-03-10 docs show it in place of <c>labels</c>.</summary>
internal sealed record WorkflowJob(
    long Id,
    long RunId,
    string? Name,
    string? Status,
    string? Conclusion,
    IReadOnlyList<string>? Labels,
    IReadOnlyList<string>? LabelFilters,
    string? RunnerName,
    long? RunnerId,
    DateTimeOffset? CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    string? RunUrl,
    string? HtmlUrl)
{
    public IReadOnlyList<string> EffectiveLabels => Labels ?? LabelFilters ?? [];
}

internal sealed record GitHubRunnerList(int TotalCount, IReadOnlyList<GitHubRunner> Runners);

internal sealed record GitHubRunner(long Id, string Name, string? Os, string? Status, bool Busy, bool? Ephemeral, IReadOnlyList<GitHubRunnerLabel>? Labels)
{
    public bool Online => string.Equals(Status, "online", StringComparison.OrdinalIgnoreCase);
}

internal sealed record GitHubRunnerLabel(long? Id, string Name, string? Type);

internal sealed record JitConfigRequest(string Name, long RunnerGroupId, IReadOnlyList<string> Labels, string WorkFolder);

/// <summary>A JIT config (secret): it never prints itself.</summary>
internal sealed record JitConfigResponse(GitHubRunner Runner, string EncodedJitConfig)
{
    public override string ToString() => $"JitConfigResponse {{ Runner = {Runner.Name} ({Runner.Id}), EncodedJitConfig = *** }}";
}

/// <summary>A registration token (secret): it never prints itself.</summary>
internal sealed record AuthenticationToken(string Token, DateTimeOffset ExpiresAt)
{
    public override string ToString() => $"AuthenticationToken {{ Token = ***, ExpiresAt = {ExpiresAt:O} }}";
}

internal sealed record GitHubError(string? Message, string? DocumentationUrl);

/// <summary>One entry of <c>GET …/actions/runners/downloads</c> ("List runner applications").</summary>
internal sealed record RunnerApplication(string Os, string Architecture, string DownloadUrl, string Filename, string? Sha256Checksum);

/// <summary>What <c>GET /repos/{owner}/{repo}</c> ("Get a repository") answers that the fleet reads.</summary>
internal sealed record RepositoryInfo(string FullName, string? DefaultBranch, bool? Private);

/// <summary>What <c>GET /repos/{owner}/{repo}/compare/{base}...{head}</c> answers that the fleet reads: identical, ahead, behind or diverged.</summary>
internal sealed record CommitComparison(string? Status);

internal sealed record WebhookRepository(long Id, string? Name, string FullName, bool Private, bool? Fork);

/// <summary>A <c>workflow_job</c> webhook body (real examples: tests/RunnerFleet.Controller.Tests/TestData/github-webhooks).</summary>
internal sealed record WorkflowJobEvent(string? Action, WorkflowJob? WorkflowJob, WebhookRepository? Repository);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WorkflowRunList))]
[JsonSerializable(typeof(WorkflowRun))]
[JsonSerializable(typeof(WorkflowJobList))]
[JsonSerializable(typeof(WorkflowJob))]
[JsonSerializable(typeof(GitHubRunnerList))]
[JsonSerializable(typeof(GitHubRunner))]
[JsonSerializable(typeof(JitConfigRequest))]
[JsonSerializable(typeof(JitConfigResponse))]
[JsonSerializable(typeof(AuthenticationToken))]
[JsonSerializable(typeof(GitHubError))]
[JsonSerializable(typeof(List<RunnerApplication>))]
[JsonSerializable(typeof(WorkflowJobEvent))]
[JsonSerializable(typeof(RepositoryInfo))]
[JsonSerializable(typeof(CommitComparison))]
internal sealed partial class GitHubJsonContext : JsonSerializerContext;
