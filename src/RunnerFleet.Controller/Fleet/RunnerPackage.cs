namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// One actions/runner release archive for Linux, as GitHub lists it for a scope
/// (<c>GET …/actions/runners/downloads</c>): where to download it and its SHA-256, which the machine checks.
/// </summary>
/// <param name="Architecture">GitHub's name: <c>x64</c> or <c>arm64</c>.</param>
internal sealed record RunnerPackage(string Architecture, Uri DownloadUrl, string Sha256, string Version)
{
    /// <summary>The version in a release file name, e.g. 2.330.0 of <c>actions-runner-linux-arm64-2.330.0.tar.gz</c>; null if none.</summary>
    public static string? VersionOf(string filename)
    {
        var name = filename.EndsWith(".tar.gz", StringComparison.Ordinal) ? filename[..^".tar.gz".Length] : filename;
        var version = name[(name.LastIndexOf('-') + 1)..];
        return System.Version.TryParse(version, out _) ? version : null;
    }
}
