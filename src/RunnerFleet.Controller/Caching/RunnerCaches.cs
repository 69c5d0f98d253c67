using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Caching;

/// <summary>What an operator sees of one pool's warm caches.</summary>
internal sealed record PoolCacheStats(long SizeBytes, int Scopes, long Hits, long WriteBacks, long Discards, long MaxSizeBytes, string Scope);

/// <summary>
/// Warm caches of the pools that have one (<c>Fleet:Pools:N:Cache</c>): before a runner starts, its layer over its scope's
/// current cache (<see cref="PrepareAsync"/>, mounted by the provider); after its resource is destroyed, the layer merged
/// into the scope or thrown away by <see cref="ICacheTrust"/>'s verdict (<see cref="SettleAsync"/>). One scope's work is
/// serialized: in this process by a semaphore, across processes on the host by a lock file.
/// Layout: <c>{Fleet:CacheDirectory}/{fleet}/{pool}/pool</c> or <c>…/{pool}/repos/{owner}/{repository}</c>.
/// </summary>
internal sealed partial class RunnerCaches(
    PoolCatalog pools,
    IOptions<FleetOptions> fleet,
    ICacheTrust trust,
    Lifecycle.CrashPoints crashPoints,
    FleetTelemetry telemetry,
    TimeProvider time,
    ILogger<RunnerCaches> logger)
{
    private static readonly TimeSpan s_lockWait = TimeSpan.FromMinutes(5);

    /// <summary>A layer made this recently may belong to a runner the sweep's list of live runners predates: left alone.</summary>
    private static readonly TimeSpan s_layerGrace = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<string, DateTimeOffset> _undecidedSince = new(StringComparer.Ordinal);

    /// <summary>How long a layer waits for GitHub to decide about its job before it is discarded.</summary>
    public TimeSpan UndecidedFor { get; set; } = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Counts> _counts = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, long> _sizes = new(StringComparer.Ordinal);

    /// <summary>Whether any pool has a cache.</summary>
    public bool Enabled => pools.Pools.Any(p => p.Cache is not null);

    /// <summary>Where this fleet's caches live.</summary>
    public string Root { get; } = Path.Combine(fleet.Value.CacheDirectory, pools.FleetName);

    /// <summary>The runner's cache mounts (none for a pool without a cache, or a runner that cannot have one).</summary>
    /// <param name="registeredAt">Where GitHub registered the runner ("owner/repo" or an organization): whose jobs it may get.</param>
    public async Task<IReadOnlyList<CacheMount>> PrepareAsync(RunnerRecord runner, PoolDefinition pool, string registeredAt, CancellationToken ct)
    {
        if (pool.Cache is not { } settings)
        {
            return [];
        }

        if (ScopeFolder(pool, registeredAt) is not { } folder)
        {
            // A repository-scoped cache for a runner registered at an organization: GitHub may give it any repository's job.
            LogNoScope(logger, runner.Name, pool.Name, registeredAt);
            return [];
        }

        EnsureRoot();

        return await UnderLockAsync(folder, () =>
        {
            folder.Ensure(settings.Paths, settings, time.GetUtcNow());
            if (folder.HasContent(settings.Paths))
            {
                Count(pool.Name).Hit();
                telemetry.CacheHit(pool.Name);
            }

            return folder.Layer(runner.Name, settings.Paths);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// After the runner's resource is gone: merges its layer into its scope when its job is trusted, else discards it.
    /// Idempotent (no layer: nothing to do). Throws while the layer is still mounted, so teardown tries again.
    /// </summary>
    public async Task SettleAsync(RunnerRecord runner, CancellationToken ct)
    {
        if (pools.Find(runner.Pool) is not { Cache: { } settings } pool || FindLayer(pool, runner.Name) is not { } folder)
        {
            return;
        }

        if (MountTable.Mentions(folder.LayerPath(runner.Name)))
        {
            throw new IOException($"runner {runner.Name}'s cache layer is still mounted; its container is not removed yet");
        }

        var verdict = await trust.JudgeAsync(runner, folder.Repository, ct).ConfigureAwait(false);
        if (verdict.Outcome == "undecided" && !folder.WasInterrupted(runner.Name))
        {
            // GitHub's record of a job can lag its runner's exit by a moment, and a rate limit passes: ask again for a while.
            var first = _undecidedSince.GetOrAdd(runner.Name, time.GetUtcNow());
            if (time.GetUtcNow() - first < UndecidedFor)
            {
                throw new IOException($"runner {runner.Name}'s cache layer waits for GitHub to decide: {verdict.Reason}");
            }
        }

        _undecidedSince.TryRemove(runner.Name, out _);
        if (verdict.Trusted && settings.Repositories.Count > 0 && !settings.Repositories.Contains(verdict.Repository ?? string.Empty, StringComparer.OrdinalIgnoreCase))
        {
            verdict = CacheVerdict.Untrusted($"{verdict.Repository} is not among Cache:Repositories");
        }

        await UnderLockAsync(folder, () =>
        {
            if (!Directory.Exists(folder.LayerPath(runner.Name)))
            {
                return false; // settled meanwhile (another teardown, the sweep)
            }

            if (folder.WasInterrupted(runner.Name))
            {
                // The controller stopped during this layer's merge: the previous generation is current and whole; this layer is given up.
                Discard(folder, runner, pool, "interrupted", "the controller stopped during its write-back");
            }
            else if (!verdict.Trusted)
            {
                Discard(folder, runner, pool, verdict.Outcome, verdict.Reason);
            }
            else
            {
                long size;
                try
                {
                    size = folder.Merge(runner.Name, settings.Paths, settings.MaxSizeMb * 1024 * 1024, time.GetUtcNow(), () => crashPoints.Reached(Lifecycle.CrashPoints.DuringCacheWriteBack));
                }
                catch (InvalidDataException e)
                {
                    Discard(folder, runner, pool, "unmergeable", e.Message);
                    return false;
                }

                folder.Discard(runner.Name);
                folder.CollectGenerations();
                _sizes[folder.Path] = size;
                Count(pool.Name).WriteBack();
                telemetry.CacheWriteBack(pool.Name);
                LogWrittenBack(logger, runner.Name, pool.Name, folder.Path, size, verdict.Reason);
            }

            PublishSizes();
            return true;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Housekeeping: layers of runners that are no longer live (a crash between destroy and settle) are discarded,
    /// generations no layer uses are deleted, scopes unused for <see cref="CacheSettings.MaxAge"/> are dropped.
    /// </summary>
    public async Task SweepAsync(IReadOnlySet<string> liveRunners, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var pool in pools.Pools.Where(p => p.Cache is not null))
        {
            foreach (var folder in Scopes(pool).ToList())
            {
                var maxAge = pool.Cache!.MaxAge;
                if (now - folder.LastUsed > maxAge && folder.LayerNames.Count == 0
                    && await DropFolderAsync(folder, () => now - folder.LastUsed > maxAge && folder.LayerNames.Count == 0, ct).ConfigureAwait(false))
                {
                    LogExpired(logger, folder.Path, pool.Name, maxAge);
                    continue;
                }

                await UnderLockAsync(folder, () =>
                {
                    foreach (var runner in folder.LayerNames.Where(n => !liveRunners.Contains(n) && now - folder.LayerMadeAt(n) > s_layerGrace && !MountTable.Mentions(folder.LayerPath(n))))
                    {
                        folder.Discard(runner);
                        Count(pool.Name).Discard();
                        telemetry.CacheDiscard(pool.Name, "abandoned");
                    }

                    folder.CollectGenerations();
                    _sizes[folder.Path] = folder.Size();
                    return true;
                }, ct).ConfigureAwait(false);
            }
        }

        PublishSizes();
    }

    /// <summary>Drops a pool's cache: one repository's scope, or (no repository) every scope of the pool. False when there was none.</summary>
    public async Task<bool> DropAsync(string poolName, string? repository, CancellationToken ct)
    {
        if (pools.Find(poolName) is not { Cache: not null } pool)
        {
            return false;
        }

        var folders = repository is null ? Scopes(pool).ToList()
            : ScopeFolder(pool, repository) is { } one && Directory.Exists(one.Path) ? [one] : [];
        foreach (var folder in folders)
        {
            await DropFolderAsync(folder, () => true, ct).ConfigureAwait(false);
            LogDropped(logger, folder.Path, pool.Name);
        }

        PublishSizes();
        return folders.Count > 0;
    }

    /// <summary>Per pool with a cache: size on disk, scopes, and hits, write-backs and discards since the controller started.</summary>
    public IReadOnlyDictionary<string, PoolCacheStats> Stats()
    {
        var stats = new Dictionary<string, PoolCacheStats>(StringComparer.OrdinalIgnoreCase);
        foreach (var pool in pools.Pools.Where(p => p.Cache is not null))
        {
            var prefix = PoolPath(pool) + Path.DirectorySeparatorChar;
            var sizes = _sizes.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            var c = Count(pool.Name);
            stats[pool.Name] = new PoolCacheStats(sizes.Sum(kv => kv.Value), sizes.Count, c.Hits, c.WriteBacks, c.Discards, pool.Cache!.MaxSizeMb * 1024 * 1024, pool.Cache.Scope.ToString().ToLowerInvariant());
        }

        return stats;
    }

    /// <summary>The scope folder a runner registered at <paramref name="registrationScope"/> uses; null when it can have none.</summary>
    internal CacheScopeFolder? ScopeFolder(PoolDefinition pool, string registrationScope)
    {
        if (pool.Cache?.Scope == CacheScope.Pool)
        {
            return new CacheScopeFolder(Path.Combine(PoolPath(pool), "pool"));
        }

        // Names are checked before they become folders: GitHub's own rules allow no '/', '..' or other surprises.
        return RepositoryNames.IsValidRepository(registrationScope) && registrationScope.Split('/') is [var owner, var name] && name is not ("." or "..")
            ? new CacheScopeFolder(Path.Combine(PoolPath(pool), "repos", owner.ToLowerInvariant(), name.ToLowerInvariant()), $"{owner}/{name}".ToLowerInvariant())
            : null;
    }

    /// <summary>The scope holding the runner's layer, wherever the runner was registered.</summary>
    private CacheScopeFolder? FindLayer(PoolDefinition pool, string runner) =>
        Scopes(pool).FirstOrDefault(f => Directory.Exists(f.LayerPath(runner)));

    /// <summary>The fleet's cache folder, root's alone: host users neither read the caches nor change their files.</summary>
    private void EnsureRoot()
    {
        if (!Directory.Exists(Root))
        {
            Directory.CreateDirectory(Root);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
    }

    private string PoolPath(PoolDefinition pool) => Path.Combine(Root, pool.Name.ToLowerInvariant());

    private IEnumerable<CacheScopeFolder> Scopes(PoolDefinition pool)
    {
        var poolPath = PoolPath(pool);
        if (Directory.Exists(Path.Combine(poolPath, "pool")))
        {
            yield return new CacheScopeFolder(Path.Combine(poolPath, "pool"));
        }

        var repos = Path.Combine(poolPath, "repos");
        if (Directory.Exists(repos))
        {
            foreach (var repo in Directory.EnumerateDirectories(repos).SelectMany(Directory.EnumerateDirectories))
            {
                yield return new CacheScopeFolder(repo, $"{Path.GetFileName(Path.GetDirectoryName(repo))}/{Path.GetFileName(repo)}");
            }
        }
    }

    /// <summary>
    /// Removes a scope when <paramref name="still"/> holds under its lock: renamed out of the way at once (runners
    /// starting later get a fresh one), its files deleted once no running runner's layer of it is mounted (overlayfs's
    /// mount options keep the paths they were mounted with: the layers' original paths are what is looked for).
    /// </summary>
    private async Task<bool> DropFolderAsync(CacheScopeFolder folder, Func<bool> still, CancellationToken ct)
    {
        var trash = Path.Combine(Root, ".dropped");
        var dropped = await UnderLockAsync(folder, () =>
        {
            if (!still())
            {
                return false;
            }

            var into = Path.Combine(trash, Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(into);
            File.WriteAllLines(Path.Combine(into, "layers"), folder.LayerNames.Select(folder.LayerPath));
            Directory.Move(folder.Path, Path.Combine(into, "scope"));
            _sizes.TryRemove(folder.Path, out _);
            return true;
        }, ct).ConfigureAwait(false);

        foreach (var entry in Directory.Exists(trash) ? Directory.EnumerateDirectories(trash).ToList() : [])
        {
            var layers = Path.Combine(entry, "layers");
            if (!File.Exists(layers) || !File.ReadAllLines(layers).Any(MountTable.Mentions))
            {
                CacheScopeFolder.RemoveTree(entry);
            }
        }

        return dropped;
    }

    private void Discard(CacheScopeFolder folder, RunnerRecord runner, PoolDefinition pool, string outcome, string reason)
    {
        folder.Discard(runner.Name);
        folder.CollectGenerations();
        Count(pool.Name).Discard();
        telemetry.CacheDiscard(pool.Name, outcome);
        LogDiscarded(logger, runner.Name, pool.Name, reason);
    }

    private async Task<T> UnderLockAsync<T>(CacheScopeFolder folder, Func<T> work, CancellationToken ct)
    {
        var gate = _gates.GetOrAdd(folder.Path, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            Directory.CreateDirectory(folder.Path);
            // Another controller on this host (a second instance, a restart overlapping the old one): an exclusive
            // lock on the scope's lock file (flock, released by the kernel when a process dies).
            using var fileLock = await LockFileAsync(Path.Combine(folder.Path, ".lock"), ct).ConfigureAwait(false);
            return work();
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<FileStream> LockFileAsync(string path, CancellationToken ct)
    {
        var deadline = time.GetUtcNow() + s_lockWait;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct).ConfigureAwait(false);
            }
        }
    }

    private void PublishSizes() =>
        telemetry.CacheSizes(Stats().ToDictionary(kv => kv.Key, kv => kv.Value.SizeBytes, StringComparer.OrdinalIgnoreCase));

    private Counts Count(string pool) => _counts.GetOrAdd(pool, _ => new Counts());

    private sealed class Counts
    {
        private long _hits;
        private long _writeBacks;
        private long _discards;

        public long Hits => Interlocked.Read(ref _hits);

        public long WriteBacks => Interlocked.Read(ref _writeBacks);

        public long Discards => Interlocked.Read(ref _discards);

        public void Hit() => Interlocked.Increment(ref _hits);

        public void WriteBack() => Interlocked.Increment(ref _writeBacks);

        public void Discard() => Interlocked.Increment(ref _discards);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Runner {RunnerName} of pool {Pool}: its cache writes were merged into {Cache} ({SizeBytes} bytes now): {Reason}")]
    private static partial void LogWrittenBack(ILogger logger, string runnerName, string pool, string cache, long sizeBytes, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Runner {RunnerName} of pool {Pool}: its cache writes were discarded: {Reason}")]
    private static partial void LogDiscarded(ILogger logger, string runnerName, string pool, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Runner {RunnerName} of pool {Pool} starts without a cache: it registers at {Scope}, where GitHub may give it any repository's job, and the cache is per repository")]
    private static partial void LogNoScope(ILogger logger, string runnerName, string pool, string scope);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cache {Cache} of pool {Pool} dropped")]
    private static partial void LogDropped(ILogger logger, string cache, string pool);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cache {Cache} of pool {Pool} unused for {MaxAge}: dropped")]
    private static partial void LogExpired(ILogger logger, string cache, string pool, TimeSpan maxAge);
}

/// <summary>Whether a path is part of a mount (an overlayfs whose options name it), from <c>/proc/self/mountinfo</c>.</summary>
internal static class MountTable
{
    public static bool Mentions(string path)
    {
        try
        {
            // mountinfo escapes spaces, tabs, newlines and backslashes as octal; cache paths have none of them.
            var mentioned = path.TrimEnd('/') + "/";
            return File.ReadLines("/proc/self/mountinfo").Any(line => line.Contains(mentioned, StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }
}
