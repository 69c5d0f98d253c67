namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// <c>Fleet:Pools:N:Cache</c>: guest paths a pool's runners keep warm from job to job. Each runner mounts the scope's
/// current cache read-only below a copy-on-write layer of its own; its writes reach the cache only when its job is
/// trusted (a push, schedule or manual run of the default branch that succeeded; README, "Warm caches").
/// </summary>
internal sealed class CacheSettings
{
    /// <summary>Absolute guest paths, e.g. <c>/home/runner/.cache</c>. Empty: no cache.</summary>
    public List<string> Paths { get; set; } = [];

    /// <summary>Who shares a cache: each repository its own (default), or the whole pool.</summary>
    public CacheScope Scope { get; set; } = CacheScope.Repository;

    /// <summary>
    /// Size limit of one scope's cache; after a write-back, the files written longest ago go first until it fits.
    /// Default 10 GiB, GitHub's own per-repository cache limit (docs: "Caching dependencies", usage limits and eviction policy).
    /// </summary>
    public long MaxSizeMb { get; set; } = 10 * 1024;

    /// <summary>A scope no runner used for this long is dropped whole. Default 7 days, as GitHub evicts caches not accessed in 7 days.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Owner of the cache's top folders (the runner's user): uid and gid 1001, the <c>runner</c> user of
    /// actions/runner's image (images/Dockerfile: <c>adduser --uid 1001 runner</c>).
    /// </summary>
    public int Uid { get; set; } = 1001;

    /// <inheritdoc cref="Uid"/>
    public int Gid { get; set; } = 1001;

    /// <summary>
    /// The repositories ("owner/name") whose trusted jobs may write to the cache; empty: any the pool serves (each into
    /// its own cache with <see cref="CacheScope.Repository"/>). Required with <see cref="CacheScope.Pool"/>, where every
    /// writer's files reach every other repository's jobs.
    /// </summary>
    public List<string> Repositories { get; set; } = [];

    public bool Enabled => Paths.Count > 0;
}

/// <summary>Who shares one cache.</summary>
internal enum CacheScope
{
    /// <summary>Each repository its own: one repository's jobs never read what another's wrote.</summary>
    Repository,

    /// <summary>Every repository the pool serves shares one (for a pool of one team's repositories).</summary>
    Pool,
}

/// <summary>One cached guest path of one runner: the scope's generation below, the runner's own layer above.</summary>
/// <param name="GuestPath">Where the runner sees it.</param>
/// <param name="LowerDir">The scope's current generation of this path (read-only to the runner).</param>
/// <param name="UpperDir">The runner's own writes (copy-on-write), on the same file system as <paramref name="WorkDir"/>.</param>
/// <param name="WorkDir">overlayfs's empty work folder.</param>
internal sealed record CacheMount(string GuestPath, string LowerDir, string UpperDir, string WorkDir);
