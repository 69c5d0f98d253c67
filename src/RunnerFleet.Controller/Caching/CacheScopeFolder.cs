using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Caching;

/// <summary>
/// One scope's warm cache on disk. Generations are immutable folders (<c>g000007/</c>, one sub-folder per cached guest
/// path); <c>current</c> is a symlink to the newest. A runner gets a layer (<c>layers/{runner}/</c>: an empty overlayfs
/// upper and work folder per path) over the generation current when it started. A write-back builds the next
/// generation beside the current one (hard links to its files, then the layer's changes applied: overlayfs's
/// whiteouts delete, opaque folders replace, files replace), writes it to disk and only then switches <c>current</c>
/// with one rename: a crash at any point leaves the previous generation current and whole. Files are never changed
/// in place (always unlinked, then replaced), so a generation's hard links never see a later generation's writes.
/// Callers hold the scope's lock for every method but <see cref="Size"/>.
/// </summary>
/// <param name="repository">The repository a repository-scoped cache belongs to; null for a pool's.</param>
internal sealed class CacheScopeFolder(string path, string? repository = null)
{
    private const string CurrentName = "current";
    private const string LayersName = "layers";
    private const string UsedName = "used";
    private const string MergingName = "merging";
    private const string GenerationName = "generation";

    public string Path { get; } = path;

    public string? Repository { get; } = repository;

    private string Layers => System.IO.Path.Combine(Path, LayersName);

    /// <summary>The folder name a guest path's cache has in each generation and layer (stable when paths are added or reordered).</summary>
    public static string PathKey(string guestPath) =>
        "p-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(guestPath.TrimEnd('/'))))[..12];

    public string LayerPath(string runner) => System.IO.Path.Combine(Layers, runner);

    /// <summary>The current generation's folder name, or null before the scope is made.</summary>
    public string? Current => new FileInfo(System.IO.Path.Combine(Path, CurrentName)).LinkTarget;

    /// <summary>When a runner last started with, or wrote back to, this scope.</summary>
    public DateTimeOffset LastUsed => File.Exists(System.IO.Path.Combine(Path, UsedName)) ? File.GetLastWriteTimeUtc(System.IO.Path.Combine(Path, UsedName)) : Directory.GetLastWriteTimeUtc(Path);

    /// <summary>The runners with a layer here.</summary>
    public IReadOnlyList<string> LayerNames => Directory.Exists(Layers) ? [.. Directory.EnumerateDirectories(Layers).Select(System.IO.Path.GetFileName).OfType<string>()] : [];

    /// <summary>Makes what is missing: the scope's folder, generation 0 and <c>current</c>, and a folder for each guest path, owned by the runner's user.</summary>
    public void Ensure(IReadOnlyList<string> guestPaths, CacheSettings settings, DateTimeOffset now)
    {
        Directory.CreateDirectory(Layers);
        if (Current is null)
        {
            var first = System.IO.Path.Combine(Path, GenerationFolder(0));
            Directory.CreateDirectory(first);
            SwitchTo(GenerationFolder(0));
        }

        var current = System.IO.Path.Combine(Path, Current!);
        foreach (var guest in guestPaths)
        {
            var dir = System.IO.Path.Combine(current, PathKey(guest));
            if (!Directory.Exists(dir))
            {
                // A path added to the settings: an empty folder in the generation is all it needs (no file changes).
                Directory.CreateDirectory(dir);
                NativeFiles.Chown(dir, (uint)settings.Uid, (uint)settings.Gid);
                SetMode(dir, (UnixFileMode)0b111_101_101);
            }
        }

        Touch(now);
    }

    /// <summary>Whether the current generation holds anything for these paths (a runner starting on it is a hit).</summary>
    public bool HasContent(IReadOnlyList<string> guestPaths) =>
        Current is { } gen && guestPaths.Any(g => Directory.Exists(System.IO.Path.Combine(Path, gen, PathKey(g))) && Directory.EnumerateFileSystemEntries(System.IO.Path.Combine(Path, gen, PathKey(g))).Any());

    /// <summary>
    /// The runner's layer over the current generation (made once: a retried create gets the same layer, which may be
    /// mounted already). The upper folders take the owner and mode of the generation's folders, since overlayfs shows
    /// the upper root's.
    /// </summary>
    public IReadOnlyList<CacheMount> Layer(string runner, IReadOnlyList<string> guestPaths)
    {
        var layer = LayerPath(runner);
        var generationFile = System.IO.Path.Combine(layer, GenerationName);
        string generation;
        if (File.Exists(generationFile))
        {
            generation = File.ReadAllText(generationFile).Trim();
        }
        else
        {
            generation = Current ?? throw new InvalidOperationException($"cache {Path} has no current generation");
            Directory.CreateDirectory(layer);
            File.WriteAllText(generationFile, generation);
        }

        var mounts = new List<CacheMount>();
        foreach (var guest in guestPaths)
        {
            var key = PathKey(guest);
            var lower = System.IO.Path.Combine(Path, generation, key);
            var upper = System.IO.Path.Combine(layer, key, "upper");
            var work = System.IO.Path.Combine(layer, key, "work");
            if (!Directory.Exists(upper))
            {
                Directory.CreateDirectory(upper);
                Directory.CreateDirectory(work);
                var owner = NativeFiles.Stat(lower) ?? throw new IOException($"cache folder {lower} is missing");
                NativeFiles.Chown(upper, owner.Uid, owner.Gid);
                SetMode(upper, owner.Permissions);
            }

            mounts.Add(new CacheMount(guest, lower, upper, work));
        }

        return mounts;
    }

    /// <summary>When the runner's layer was made.</summary>
    public DateTimeOffset LayerMadeAt(string runner) => File.GetLastWriteTimeUtc(System.IO.Path.Combine(LayerPath(runner), GenerationName));

    /// <summary>A merge of this runner's layer began and did not finish (the controller stopped): its layer is not merged again.</summary>
    public bool WasInterrupted(string runner) => File.Exists(System.IO.Path.Combine(LayerPath(runner), MergingName));

    /// <summary>
    /// Merges the runner's layer into a new generation, trims it to <paramref name="maxBytes"/> (files written longest
    /// ago first), writes it to disk and makes it current. Returns the new generation's size in bytes.
    /// </summary>
    /// <param name="beforeSwitch">Called with the new generation written, before it becomes current (a crash point for tests).</param>
    public long Merge(string runner, IReadOnlyList<string> guestPaths, long maxBytes, DateTimeOffset now, Action? beforeSwitch = null)
    {
        var layer = LayerPath(runner);
        // Names that are not UTF-8 cannot be handled by name here (nor deleted by .NET): such a layer is not merged.
        if (Walk(layer).FirstOrDefault(e => System.IO.Path.GetFileName(e.Path).Contains('\uFFFD', StringComparison.Ordinal)) is { Path: { } odd })
        {
            throw new InvalidDataException($"the layer holds a file name that is not UTF-8 ({System.IO.Path.GetRelativePath(layer, odd)})");
        }

        File.WriteAllText(System.IO.Path.Combine(layer, MergingName), now.ToString("O", CultureInfo.InvariantCulture));
        var previous = Current ?? throw new InvalidOperationException($"cache {Path} has no current generation");
        var name = GenerationFolder(Generations().Select(Number).DefaultIfEmpty(0).Max() + 1);
        var next = System.IO.Path.Combine(Path, name);
        Clone(System.IO.Path.Combine(Path, previous), next);
        foreach (var guest in guestPaths)
        {
            var key = PathKey(guest);
            var upper = System.IO.Path.Combine(layer, key, "upper");
            if (Directory.Exists(upper) && Directory.Exists(System.IO.Path.Combine(next, key)))
            {
                Apply(upper, System.IO.Path.Combine(next, key));
            }
        }

        var size = Trim(next, maxBytes);
        NativeFiles.SyncFileSystem(next);
        beforeSwitch?.Invoke();
        SwitchTo(name);
        Touch(now);
        return size;
    }

    /// <summary>Deletes the runner's layer (its writes, merged or not).</summary>
    public void Discard(string runner) => DeleteAny(LayerPath(runner));

    /// <summary>Deletes every generation but the current one and those a remaining layer is mounted on.</summary>
    public void CollectGenerations()
    {
        var keep = new HashSet<string>(StringComparer.Ordinal) { Current ?? string.Empty };
        foreach (var runner in LayerNames)
        {
            var file = System.IO.Path.Combine(LayerPath(runner), GenerationName);
            if (File.Exists(file))
            {
                keep.Add(File.ReadAllText(file).Trim());
            }
        }

        foreach (var generation in Generations().Where(g => !keep.Contains(g)))
        {
            DeleteAny(System.IO.Path.Combine(Path, generation));
        }
    }

    /// <summary>Bytes in the current generation's files (each file once, however many names it has).</summary>
    public long Size() => Current is { } gen && Directory.Exists(System.IO.Path.Combine(Path, gen))
        ? Walk(System.IO.Path.Combine(Path, gen)).Where(e => e.Stat.IsRegular).DistinctBy(e => e.Stat.Inode).Sum(e => e.Stat.Size)
        : 0;

    private IEnumerable<string> Generations() =>
        Directory.EnumerateDirectories(Path, "g*").Select(System.IO.Path.GetFileName).OfType<string>().Where(n => n.Length == 7 && n[1..].All(char.IsAsciiDigit));

    private static int Number(string generation) => int.Parse(generation[1..], CultureInfo.InvariantCulture);

    private static string GenerationFolder(int n) => string.Create(CultureInfo.InvariantCulture, $"g{n:D6}");

    private void Touch(DateTimeOffset now)
    {
        var used = System.IO.Path.Combine(Path, UsedName);
        if (!File.Exists(used))
        {
            File.WriteAllText(used, string.Empty);
        }

        File.SetLastWriteTimeUtc(used, now.UtcDateTime);
    }

    /// <summary>Points <c>current</c> at <paramref name="generation"/> with one rename, and writes that to disk.</summary>
    private void SwitchTo(string generation)
    {
        var temp = System.IO.Path.Combine(Path, CurrentName + ".new");
        DeleteAny(temp);
        File.CreateSymbolicLink(temp, generation);
        NativeFiles.Rename(temp, System.IO.Path.Combine(Path, CurrentName));
        NativeFiles.SyncFileSystem(Path);
    }

    /// <summary>A copy of <paramref name="source"/> whose folders are new and whose files are hard links to the same files.</summary>
    private static void Clone(string source, string target)
    {
        DeleteAny(target); // the remains of a merge interrupted before its switch
        var stack = new Stack<(string From, string To)>();
        stack.Push((source, target));
        while (stack.TryPop(out var pair))
        {
            var stat = NativeFiles.Stat(pair.From)!.Value;
            Directory.CreateDirectory(pair.To);
            CopyOwnerAndMode(stat, pair.To);
            foreach (var entry in Directory.EnumerateFileSystemEntries(pair.From))
            {
                var to = System.IO.Path.Combine(pair.To, System.IO.Path.GetFileName(entry));
                if (NativeFiles.Stat(entry) is { IsDirectory: true })
                {
                    stack.Push((entry, to));
                }
                else
                {
                    NativeFiles.Link(entry, to);
                }
            }
        }
    }

    /// <summary>Applies an overlayfs upper folder to <paramref name="target"/> (Documentation/filesystems/overlayfs.rst: whiteouts, opaque directories).</summary>
    private static void Apply(string upper, string target)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(upper).ToList())
        {
            var to = System.IO.Path.Combine(target, System.IO.Path.GetFileName(entry));
            var stat = NativeFiles.Stat(entry);
            if (stat is not { } s)
            {
                continue;
            }

            if (s.IsWhiteout)
            {
                DeleteAny(to);
            }
            else if (s.IsDirectory)
            {
                // Opaque: the folder was deleted and made again in the layer, so nothing below it survives. Only the
                // trusted.* name counts: the mount is not userxattr, so overlayfs ignores a user.overlay.* a job may set.
                var opaque = NativeFiles.GetAttribute(entry, "trusted.overlay.opaque") == "y";
                if (opaque || NativeFiles.Stat(to) is not { IsDirectory: true })
                {
                    DeleteAny(to);
                    Directory.CreateDirectory(to);
                }

                CopyOwnerAndMode(s, to);
                Apply(entry, to);
            }
            else if (s.IsRegular || s.IsSymlink)
            {
                DeleteAny(to);
                NativeFiles.Rename(entry, to);
                NativeFiles.RemoveOverlayAttributes(to);
                if (s.IsRegular && s.IsSetId)
                {
                    // A job must not leave a setuid program for later jobs (the volume is nosuid as well).
                    SetMode(to, s.Permissions & ~(UnixFileMode.SetUser | UnixFileMode.SetGroup));
                }
            }

            // Devices, FIFOs and sockets a job made are not cache content: left out.
        }
    }

    /// <summary>Deletes the files written longest ago until the generation holds at most <paramref name="maxBytes"/>; returns its size.</summary>
    private static long Trim(string generation, long maxBytes)
    {
        // Per file, all its names: its space is freed only when the last goes.
        var files = Walk(generation).Where(e => e.Stat.IsRegular).GroupBy(e => e.Stat.Inode)
            .Select(g => (Names: g.Select(e => e.Path).ToList(), g.First().Stat))
            .OrderBy(f => f.Stat.MtimeSeconds).ThenBy(f => f.Names[0], StringComparer.Ordinal).ToList();
        var size = files.Sum(f => f.Stat.Size);
        foreach (var (names, stat) in files)
        {
            if (size <= maxBytes)
            {
                break;
            }

            names.ForEach(File.Delete);
            size -= stat.Size;
        }

        return size;
    }

    private static IEnumerable<(string Path, NativeFiles.FileStat Stat)> Walk(string root)
    {
        var stack = new Stack<string>();
        stack.Push(root);
        while (stack.TryPop(out var dir))
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
            {
                if (NativeFiles.Stat(entry) is not { } stat)
                {
                    continue;
                }

                if (stat.IsDirectory)
                {
                    stack.Push(entry);
                }

                yield return (entry, stat);
            }
        }
    }

    private static void CopyOwnerAndMode(NativeFiles.FileStat stat, string dir)
    {
        NativeFiles.Chown(dir, stat.Uid, stat.Gid);
        SetMode(dir, stat.Permissions);
    }

    private static void SetMode(string dir, UnixFileMode mode)
    {
        // Caches exist on Linux only (overlayfs); the guard is for the analyzer.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(dir, mode);
        }
    }

    /// <summary>Removes a file, symlink, device or whole folder; nothing when it is not there. Never follows a symlink.</summary>
    internal static void DeleteAny(string path)
    {
        switch (NativeFiles.Stat(path))
        {
            case null:
                return;
            case { IsDirectory: true }:
                RemoveTree(path);
                return;
            default:
                File.Delete(path);
                return;
        }
    }

    /// <summary>
    /// <c>rm -rf</c>: a job's folder may hold names that are not UTF-8, which .NET cannot name to delete
    /// (dotnet/runtime#29586); rm works on bytes, stays on one file system and follows no symlink.
    /// </summary>
    internal static void RemoveTree(string path)
    {
        using var rm = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("rm", ["-rf", "--one-file-system", "--", path]) { RedirectStandardError = true, UseShellExecute = false })
            ?? throw new IOException($"rm could not be started to delete {path}");
        var error = rm.StandardError.ReadToEnd();
        rm.WaitForExit();
        if (rm.ExitCode != 0 || Directory.Exists(path))
        {
            throw new IOException($"rm -rf {path} failed ({rm.ExitCode}): {error.Trim()}");
        }
    }
}
