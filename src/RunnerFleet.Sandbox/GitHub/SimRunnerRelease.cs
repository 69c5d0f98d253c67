using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>
/// The simulator's "actions/runner release": a .tar.gz laid out like GitHub's (run.sh, config.sh and
/// bin/installdependencies.sh at its root) holding the simulated runner's scripts, with its SHA-256, as
/// "List runner applications" (<c>GET …/actions/runners/downloads</c>) describes a release: os, architecture,
/// download_url, filename, sha256_checksum (docs.github.com/en/rest/actions/self-hosted-runners).
/// </summary>
public static class SimRunnerRelease
{
    public const string Version = "2.330.0";

    private static readonly Lazy<byte[]> s_archive = new(Build);

    public static byte[] Archive => s_archive.Value;

    public static string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Archive));

    public static string FileName(string os, string architecture) =>
        $"actions-runner-{os}-{architecture}-{Version}.{(os == "win" ? "zip" : "tar.gz")}";

    private static byte[] Build()
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            const UnixFileMode executable = (UnixFileMode)0b111_101_101;
            Add(tar, "bin/", null, executable);
            Add(tar, "run.sh", Script("run.sh"), executable);
            Add(tar, "config.sh", Script("config.sh"), executable);
            // The real release's dependency installer (apt packages for .NET); nothing to install for shell scripts.
            Add(tar, "bin/installdependencies.sh", "#!/bin/sh\nexit 0\n", executable);
        }

        return output.ToArray();
    }

    private static void Add(TarWriter tar, string name, string? text, UnixFileMode mode)
    {
        var entry = new PaxTarEntry(text is null ? TarEntryType.Directory : TarEntryType.RegularFile, name) { Mode = mode, ModificationTime = DateTimeOffset.UnixEpoch };
        if (text is not null)
        {
            entry.DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
        }

        tar.WriteEntry(entry);
    }

    private static string Script(string name)
    {
        using var stream = typeof(SimRunnerRelease).Assembly.GetManifestResourceStream($"RunnerFleet.Sandbox.sim-runner.{name}")
            ?? throw new InvalidOperationException($"the simulated runner's {name} is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
