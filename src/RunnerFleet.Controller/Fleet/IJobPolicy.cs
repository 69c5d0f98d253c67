namespace RunnerFleet.Controller.Fleet;

/// <summary>A rule on which jobs a pool may serve (e.g. no fork pull requests), asked for every job a pool matches.</summary>
internal interface IJobPolicy
{
    /// <summary>Allowed, refused (with the reason), or undecided for now (ask again at the job's next observation).</summary>
    Task<JobVerdict> DecideAsync(PoolDefinition pool, JobRecord job, CancellationToken ct);

    /// <summary>One of the fleet's runners took a job this policy refused: stop what it runs (e.g. cancel the run).</summary>
    Task ContainAsync(JobRecord job, CancellationToken ct);

    /// <summary>
    /// Whether the job's run is a pull request from another repository (a fork), in any repository, public or private:
    /// true, false, or null when it cannot be told. A machine that ran such a job is never reused.
    /// </summary>
    Task<bool?> CameFromForkAsync(JobRecord job, CancellationToken ct);
}

/// <summary>A <see cref="IJobPolicy"/> decision: a refusal reason, or undecided (ask again later), or neither (allowed).</summary>
internal sealed record JobVerdict(string? Refusal, bool IsUndecided)
{
    public static readonly JobVerdict Allowed = new(null, false);
    public static readonly JobVerdict Undecided = new(null, true);
}
