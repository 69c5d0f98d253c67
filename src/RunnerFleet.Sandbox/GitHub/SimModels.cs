namespace RunnerFleet.Sandbox.GitHub;

/// <summary>A repository the simulator knows.</summary>
public sealed record SimRepository(long Id, string Owner, string Name, bool Private)
{
    public string FullName => $"{Owner}/{Name}";

    /// <summary>Every simulated repository's <c>default_branch</c>.</summary>
    public const string DefaultBranch = "main";
}

/// <summary>A workflow run; its status is derived from its jobs.</summary>
public sealed class SimWorkflowRun
{
    public required long Id { get; init; }
    public required SimRepository Repository { get; init; }
    public required string Name { get; init; }
    public required string HeadSha { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public List<SimJob> Jobs { get; } = [];

    /// <summary>What started the run: push, pull_request, workflow_dispatch…</summary>
    public string Event { get; init; } = "push";

    /// <summary>Where the head commit lives: the repository itself, or a fork's full name for a pull request from a fork.</summary>
    public string? HeadRepository { get; init; }

    /// <summary>The run's <c>head_branch</c>: the pushed branch, or a pull request's head branch.</summary>
    public string HeadBranch { get; init; } = SimRepository.DefaultBranch;

    public string Status =>
        Jobs.All(j => j.Status == "completed") ? "completed"
        : Jobs.All(j => j.Status == "queued") ? "queued"
        : "in_progress";

    public string? Conclusion => Status == "completed"
        ? (Jobs.All(j => j.Conclusion == "success") ? "success" : "failure")
        : null;
}

/// <summary>A workflow job: queued → in_progress → completed.</summary>
public sealed class SimJob
{
    public required long Id { get; init; }
    public required SimWorkflowRun Run { get; init; }
    public required string Name { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required TimeSpan Duration { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The job's steps as a shell script (simulated runners run it), or null to wait <see cref="Duration"/>.</summary>
    public string? Script { get; init; }

    /// <summary>What the script printed (stdout and stderr), as the runner reported it.</summary>
    public string? Output { get; set; }
    public string Status { get; set; } = "queued";
    public string? Conclusion { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public long? RunnerId { get; set; }
    public string? RunnerName { get; set; }

    /// <summary>When the runner that took the job came online (its <see cref="SimRunner.OnlineAt"/>).</summary>
    public DateTimeOffset? RunnerOnlineAt { get; set; }
    /// <summary>How many runners this job was handed to; real GitHub also hands a job to exactly one runner.</summary>
    public int Assignments { get; set; }

    /// <summary>What <c>uname -m</c> said on the runner that ran the job (x86_64, aarch64).</summary>
    public string? RunnerMachine { get; set; }

    /// <summary>
    /// Whether the runner reported running the job's steps (false while it runs, when its job-started hook refused
    /// the job, or when the job ended otherwise, e.g. cancelled, before the runner reported).
    /// </summary>
    public bool StepsRan { get; set; }

    /// <summary>The scale set the job is assigned to (its <c>runs-on</c> is the scale set's name), if any.</summary>
    public long? ScaleSetId { get; set; }

    public DateTimeOffset? ScaleSetAssignedAt { get; set; }

    /// <summary>GHES: when the job was last offered to its scale set as available.</summary>
    public DateTimeOffset? ScaleSetOfferedAt { get; set; }

    /// <summary>How many times the job was handed to its scale set (GitHub reassigns up to 3 times).</summary>
    public int ScaleSetAssignments { get; set; }

    /// <summary>Whether the scale set holds the job (assigned): on GHES only once its listener acquired it; until then no runner gets it.</summary>
    public bool ScaleSetAcquired { get; set; }
}

/// <summary>A registered self-hosted runner. Scope is "owner/repo" or an organization login.</summary>
public sealed class SimRunner
{
    public required long Id { get; init; }
    public required string Name { get; init; }
    public required string Scope { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required bool Ephemeral { get; init; }
    public required string Credential { get; init; }
    public required long RunnerGroupId { get; init; }
    public required DateTimeOffset RegisteredAt { get; init; }
    public bool SessionOpen { get; set; }
    public DateTimeOffset? LastSeen { get; set; }

    /// <summary>When the runner first came online (its first session or job request): GitHub's runner "online".</summary>
    public DateTimeOffset? OnlineAt { get; set; }
    public SimJob? Job { get; set; }
    public bool JobDone { get; set; }

    /// <summary>The scale set whose JIT config registered this runner, if any.</summary>
    public long? ScaleSetId { get; set; }
    public bool Busy => Job is not null && !JobDone;
}

/// <summary>A fault injected into the REST API: the next <see cref="Count"/> matching requests fail.</summary>
public sealed class SimFault
{
    public required string PathPrefix { get; init; }

    /// <summary>Also required in the path, when set (e.g. <c>/messages/</c> under a scale set's session).</summary>
    public string? PathContains { get; init; }
    public string? Method { get; init; }
    public required int Status { get; init; }
    public int Count { get; set; } = 1;
    public int? RetryAfterSeconds { get; init; }
    public bool ExhaustRateLimit { get; init; }

    /// <summary>
    /// The request is carried out, then answered with <see cref="Status"/> anyway: a write whose answer was
    /// lost (a 502 from a proxy after GitHub made the runner). Retrying it is not idempotent.
    /// </summary>
    public bool AfterWork { get; init; }
}
