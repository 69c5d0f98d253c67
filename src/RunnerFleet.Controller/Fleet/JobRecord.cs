namespace RunnerFleet.Controller.Fleet;

/// <summary>A workflow job seen by a job source. <see cref="Pool"/> is null when no pool serves its labels.</summary>
internal sealed record JobRecord
{
    public required long Id { get; init; }
    public required string Repository { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required JobStatus Status { get; init; }
    public long RunId { get; init; }
    public string? Name { get; init; }
    public string? Pool { get; init; }
    public string? Scope { get; init; }
    public string? RunnerName { get; init; }
    public string? Conclusion { get; init; }
    public DateTimeOffset? QueuedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>Why no pool serves this job although one matches its labels (a policy refused it), or null.</summary>
    public string? Refusal { get; init; }

    /// <summary>What the job source knew of the run behind the job; not stored.</summary>
    public JobOrigin? Origin { get; init; }
}

/// <summary>
/// Where a job's code comes from: the run's event, the repository its head commit lives in, and whether
/// the job's repository is private. Unknown parts are null.
/// </summary>
internal sealed record JobOrigin(string? Event, string? HeadRepository, bool? RepositoryPrivate)
{
    /// <summary>Whether the run is a pull request whose code comes from another repository (a fork), in a public repository.</summary>
    /// <returns>Null when the parts that decide it are unknown.</returns>
    public bool? IsPublicForkPullRequest(string repository)
    {
        if (RepositoryPrivate == true)
        {
            return false;
        }

        if (Event is null || RepositoryPrivate is null)
        {
            return null;
        }

        // pull_request, pull_request_target, pull_request_review(_comment): a fork's head commit, or a fork since deleted (no head repository).
        return Event.StartsWith("pull_request", StringComparison.Ordinal)
            && !string.Equals(HeadRepository, repository, StringComparison.OrdinalIgnoreCase);
    }
}
