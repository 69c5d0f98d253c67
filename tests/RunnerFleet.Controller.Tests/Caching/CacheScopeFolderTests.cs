using System.Diagnostics;
using RunnerFleet.Controller.Caching;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Caching;

/// <summary>
/// A scope's generations on disk, with upper layers made by hand as overlayfs makes them (files, folders, a whiteout:
/// a 0/0 character device). The Docker tests (Category=Cache, integration) run the same merge on real overlay mounts.
/// </summary>
[Trait("Category", "Cache")]
public sealed class CacheScopeFolderTests : IDisposable
{
    private const string Guest = "/home/runner/.cache";
    private static readonly string[] s_paths = [Guest];
    private readonly string _root = Directory.CreateTempSubdirectory("rf-scope-").FullName;
    private readonly CacheSettings _settings = new() { Paths = [Guest], Uid = 1001, Gid = 1001 };
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;

    [Fact]
    public void A_merge_makes_a_new_generation_and_leaves_the_previous_one_as_it_was()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "the merge chowns to the runner's user and makes whiteouts: root only, as the controller's cache needs");
        var scope = new CacheScopeFolder(Path.Combine(_root, "scope"));
        scope.Ensure(s_paths, _settings, _now);
        Assert.Equal("g000000", scope.Current);
        Assert.False(scope.HasContent(s_paths));

        var first = scope.Layer("r1", s_paths).Single();
        Assert.Equal(1001u, NativeFiles.Stat(first.UpperDir)!.Value.Uid);
        File.WriteAllText(Path.Combine(first.UpperDir, "a"), "one");
        Directory.CreateDirectory(Path.Combine(first.UpperDir, "d"));
        File.WriteAllText(Path.Combine(first.UpperDir, "d", "f"), "f");
        scope.Merge("r1", s_paths, long.MaxValue, _now);
        scope.Discard("r1");
        Assert.Equal("g000001", scope.Current);
        Assert.True(scope.HasContent(s_paths));

        // The next runner replaces a and deletes d/f (a whiteout), while r3 still runs on generation 1.
        var third = scope.Layer("r3", s_paths).Single();
        var second = scope.Layer("r2", s_paths).Single();
        Assert.Equal(third.LowerDir, second.LowerDir);
        File.WriteAllText(Path.Combine(second.UpperDir, "a"), "two");
        Directory.CreateDirectory(Path.Combine(second.UpperDir, "d"));
        Whiteout(Path.Combine(second.UpperDir, "d", "f"));
        var size = scope.Merge("r2", s_paths, long.MaxValue, _now);
        scope.Discard("r2");
        scope.CollectGenerations();

        Assert.Equal("g000002", scope.Current);
        var current = Path.Combine(scope.Path, "g000002", CacheScopeFolder.PathKey(Guest));
        Assert.Equal("two", File.ReadAllText(Path.Combine(current, "a")));
        Assert.False(File.Exists(Path.Combine(current, "d", "f")));
        Assert.Equal(3, size);
        // Generation 1 is r3's lower layer: kept, and unchanged although its files were hard links of generation 2's first version.
        Assert.Equal("one", File.ReadAllText(Path.Combine(third.LowerDir, "a")));
        Assert.Equal("f", File.ReadAllText(Path.Combine(third.LowerDir, "d", "f")));

        scope.Discard("r3");
        scope.CollectGenerations();
        Assert.Equal(["g000002"], Directory.EnumerateDirectories(scope.Path, "g*").Select(Path.GetFileName));
    }

    [Fact]
    public void Trimming_drops_the_files_written_longest_ago_first()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "the merge chowns to the runner's user and makes whiteouts: root only, as the controller's cache needs");
        var scope = new CacheScopeFolder(Path.Combine(_root, "scope"));
        scope.Ensure(s_paths, _settings, _now);
        var layer = scope.Layer("r1", s_paths).Single();
        var i = 0;
        foreach (var name in new[] { "newest", "oldest", "middle" })
        {
            var file = Path.Combine(layer.UpperDir, name);
            File.WriteAllBytes(file, new byte[1000]);
            File.SetLastWriteTimeUtc(file, _now.UtcDateTime.AddHours(name switch { "oldest" => -3, "middle" => -2, _ => -1 }) .AddSeconds(i++));
        }

        var size = scope.Merge("r1", s_paths, 2500, _now);

        Assert.Equal(2000, size);
        Assert.Equal(["middle", "newest"], Directory.EnumerateFiles(Path.Combine(scope.Path, scope.Current!, CacheScopeFolder.PathKey(Guest))).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_merge_cut_short_before_its_switch_leaves_the_previous_generation_current_and_is_not_repeated()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "the merge chowns to the runner's user and makes whiteouts: root only, as the controller's cache needs");
        var scope = new CacheScopeFolder(Path.Combine(_root, "scope"));
        scope.Ensure(s_paths, _settings, _now);
        var layer = scope.Layer("r1", s_paths).Single();
        File.WriteAllText(Path.Combine(layer.UpperDir, "a"), "one");

        Assert.Throws<InvalidOperationException>(() => scope.Merge("r1", s_paths, long.MaxValue, _now, () => throw new InvalidOperationException("killed")));

        Assert.Equal("g000000", scope.Current);
        Assert.True(scope.WasInterrupted("r1"));
        scope.Discard("r1");
        scope.CollectGenerations();
        Assert.Equal(["g000000"], Directory.EnumerateDirectories(scope.Path, "g*").Select(Path.GetFileName));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>overlayfs's whiteout: a character device 0/0 (mknod needs root, as the controller's merge does).</summary>
    private static void Whiteout(string path)
    {
        using var mknod = Process.Start(new ProcessStartInfo("mknod", [path, "c", "0", "0"]) { RedirectStandardError = true })!;
        mknod.WaitForExit();
        Assert.True(mknod.ExitCode == 0, mknod.StandardError.ReadToEnd());
    }
}
