namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// Decides whether a finished runner's warm-cache writes may be merged into its scope's cache. The GitHub side
/// implements it from GitHub's own record of the job (<c>GitHub/CacheTrust.cs</c>); without one, nothing is trusted.
/// </summary>
internal interface ICacheTrust
{
    /// <param name="cacheRepository">The repository a repository-scoped cache belongs to; null for a pool-scoped one.</param>
    Task<CacheVerdict> JudgeAsync(RunnerRecord runner, string? cacheRepository, CancellationToken ct);
}

/// <summary>Whether a runner's cache layer may be merged, and why (or why not); <see cref="Outcome"/> labels the metric.</summary>
/// <param name="Repository">The repository whose job it was, when known.</param>
internal sealed record CacheVerdict(bool Trusted, string Reason, string Outcome, string? Repository = null)
{
    public static CacheVerdict Untrusted(string reason) => new(false, reason, "untrusted");

    public static CacheVerdict Undecided(string reason) => new(false, reason, "undecided");
}

/// <summary>The fail-closed default when nothing can judge jobs: every layer is discarded.</summary>
internal sealed class NoCacheTrust : ICacheTrust
{
    public Task<CacheVerdict> JudgeAsync(RunnerRecord runner, string? cacheRepository, CancellationToken ct) =>
        Task.FromResult(CacheVerdict.Undecided("no trust source is configured"));
}
