using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.GitHub;

/// <summary>
/// The current actions/runner release for Linux per scope, from GitHub's "List runner applications"
/// (<c>GET …/actions/runners/downloads</c>: download URL and <c>sha256_checksum</c> per OS and architecture),
/// read at provision time and kept for an hour. GitHub refuses jobs to runners more than 30 days behind, so a
/// machine installs this release rather than a pinned one, and verifies its checksum. When GitHub does not
/// answer, the last answer is used; with none, the list is empty (a machine that must install then refuses to start).
/// </summary>
internal sealed partial class RunnerReleases(GitHubApiClient github, IOptions<Configuration.GitHubOptions> options, TimeProvider time, ILogger<RunnerReleases> logger)
{
    private static readonly TimeSpan s_keep = TimeSpan.FromHours(1);
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, IReadOnlyList<RunnerPackage> Packages)> _cache = new(StringComparer.OrdinalIgnoreCase);

    public async Task<IReadOnlyList<RunnerPackage>> LinuxAsync(string scope, CancellationToken ct)
    {
        if (_cache.TryGetValue(scope, out var cached) && time.GetUtcNow() - cached.At < s_keep)
        {
            return cached.Packages;
        }

        try
        {
            var applications = await github.ListRunnerApplicationsAsync(scope, ct).ConfigureAwait(false) ?? [];
            var packages = applications
                .Where(a => a.Os == "linux" && a.Architecture is "x64" or "arm64" && !string.IsNullOrEmpty(a.Sha256Checksum) && IsFetchable(a.DownloadUrl))
                .Select(a => new RunnerPackage(a.Architecture, new Uri(a.DownloadUrl), a.Sha256Checksum!.ToLowerInvariant(), RunnerPackage.VersionOf(a.Filename) ?? "unknown"))
                .ToList();
            _cache[scope] = (time.GetUtcNow(), packages);
            return packages;
        }
        catch (GitHubApiException e)
        {
            LogUnavailable(logger, scope, e.Message);
            return cached.Packages ?? [];
        }
    }

    // https; http only from a GitHub that is itself spoken to over http (a simulator; see GitHub:AllowInsecureApiUrl).
    // The checksum is verified either way.
    private bool IsFetchable(string url) => Uri.TryCreate(url, UriKind.Absolute, out var u)
        && (u.Scheme == Uri.UriSchemeHttps || (u.Scheme == Uri.UriSchemeHttp && options.Value.ApiUrl.Scheme == Uri.UriSchemeHttp));

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub did not list the runner releases for {Scope} ({Error}); the last known release is used")]
    private static partial void LogUnavailable(ILogger logger, string scope, string error);
}
