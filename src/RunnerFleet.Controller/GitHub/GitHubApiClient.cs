using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.GitHub;

/// <summary>
/// The typed GitHub REST client: conditional GETs with ETags (an unchanged answer is a free 304),
/// pagination, rate-limit headers read into a metric, waits on 403/429 as GitHub asks
/// (<c>retry-after</c>, else <c>x-ratelimit-reset</c>, else a minute, growing), retries on 5xx, and
/// mutating calls serialized to stay clear of the secondary limits.
/// </summary>
/// <remarks>
/// Octokit.net 14 was the design's choice; it lacks generate-jitconfig, 429 handling and the API
/// version header, and appends /api/v3 to every non-github.com host. One small client over
/// <see cref="HttpClient"/> covers all of it in one place.
/// </remarks>
internal sealed partial class GitHubApiClient(
    HttpClient http, GitHubCredentials credentials, IOptions<GitHubOptions> options, TimeProvider time, FleetTelemetry telemetry, ILogger<GitHubApiClient> logger) : IDisposable
{
    /// <summary>
    /// Sent on every request to GitHub, the Actions service and the message queue included: GitHub refuses
    /// API requests without one (403; REST docs, "Getting started": "Requests with no User-Agent header will
    /// be rejected"), and actions/scaleset sends one on every call (common_client.go, session_client.go).
    /// </summary>
    public const string UserAgent = "RunnerFleet/1.0";

    private const int MaxAttempts = 4;
    private readonly ConcurrentDictionary<string, (string ETag, object Value)> _cache = new();
    private readonly SemaphoreSlim _writes = new(1, 1);

    /// <summary>The longest the client waits on a rate limit before it gives up and lets the caller retry later.</summary>
    public TimeSpan MaxRateLimitWait { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The API path of a scope; a name that could bend the URL (<c>..</c>, an extra <c>/</c>) is refused, never sent.</summary>
    public static string ScopePath(string scope) =>
        !RepositoryNames.IsValidScope(scope) ? throw new GitHubApiException($"'{scope}' is not a repository (owner/name) or an organization name")
        : scope.Contains('/', StringComparison.Ordinal) ? $"/repos/{scope}" : $"/orgs/{scope}";

    /// <summary>How many pages a list follows at most (10,000 runners are 100 pages); past it the list is cut and said so.</summary>
    public const int MaxPages = 1000;

    public async Task<IReadOnlyList<WorkflowRun>> ListRunsAsync(string repository, string status, CancellationToken ct) =>
        await ListAsync($"{ScopePath(repository)}/actions/runs?status={status}&per_page=100", "runs", GitHubJsonContext.Default.WorkflowRunList, l => l.WorkflowRuns, ct).ConfigureAwait(false);

    public async Task<IReadOnlyList<WorkflowJob>> ListJobsAsync(string repository, long runId, CancellationToken ct) =>
        await ListAsync($"{ScopePath(repository)}/actions/runs/{runId}/jobs?per_page=100", "jobs", GitHubJsonContext.Default.WorkflowJobList, l => l.Jobs, ct).ConfigureAwait(false);

    public Task<WorkflowRun?> GetRunAsync(string repository, long runId, CancellationToken ct) =>
        GetAsync($"/repos/{repository}/actions/runs/{runId}", "run", GitHubJsonContext.Default.WorkflowRun, ct);

    /// <summary>Cancels a workflow run. False when it has already finished (409).</summary>
    public async Task<bool> CancelRunAsync(string repository, long runId, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, $"/repos/{repository}/actions/runs/{runId}/cancel", "cancel-run", null, ct).ConfigureAwait(false);
        return response.StatusCode switch
        {
            HttpStatusCode.Accepted or HttpStatusCode.OK or HttpStatusCode.NoContent => true,
            HttpStatusCode.Conflict => false,
            _ => throw await ErrorAsync(response, "cancel run", ct).ConfigureAwait(false),
        };
    }

    /// <summary>A repository's default branch and visibility; null when it is not there (or not visible to the token).</summary>
    public Task<RepositoryInfo?> GetRepositoryAsync(string repository, CancellationToken ct) =>
        RepositoryNames.IsValidScope(repository) && repository.Contains('/', StringComparison.Ordinal)
            ? GetAsync(ScopePath(repository), "repository", GitHubJsonContext.Default.RepositoryInfo, ct)
            : throw new GitHubApiException($"'{repository}' is not a repository (owner/name)");

    /// <summary>How <paramref name="head"/> relates to <paramref name="baseRef"/>: identical, ahead, behind or diverged; null when GitHub knows neither.</summary>
    public async Task<string?> CompareAsync(string repository, string baseRef, string head, CancellationToken ct) =>
        (await GetAsync($"{ScopePath(repository)}/compare/{Uri.EscapeDataString(baseRef)}...{Uri.EscapeDataString(head)}?per_page=1", "compare", GitHubJsonContext.Default.CommitComparison, ct).ConfigureAwait(false))?.Status;

    public Task<WorkflowJob?> GetJobAsync(string repository, long jobId, CancellationToken ct) =>
        GetAsync($"/repos/{repository}/actions/jobs/{jobId}", "job", GitHubJsonContext.Default.WorkflowJob, ct);

    public async Task<IReadOnlyList<GitHubRunner>> ListRunnersAsync(string scope, CancellationToken ct) =>
        await ListAsync($"{ScopePath(scope)}/actions/runners?per_page=100", "runners", GitHubJsonContext.Default.GitHubRunnerList, l => l.Runners, ct).ConfigureAwait(false);

    /// <summary>A runner by its exact name (the list's <c>name</c> filter), or null.</summary>
    public async Task<GitHubRunner?> FindRunnerByNameAsync(string scope, string name, CancellationToken ct) =>
        (await ListAsync($"{ScopePath(scope)}/actions/runners?name={Uri.EscapeDataString(name)}&per_page=100", "runners", GitHubJsonContext.Default.GitHubRunnerList, l => l.Runners, ct).ConfigureAwait(false))
        .FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.Ordinal));

    /// <summary>The runner application's current release per OS and architecture ("List runner applications"), or null (404).</summary>
    public Task<List<RunnerApplication>?> ListRunnerApplicationsAsync(string scope, CancellationToken ct) =>
        GetAsync($"{ScopePath(scope)}/actions/runners/downloads", "runner-downloads", GitHubJsonContext.Default.ListRunnerApplication, ct);

    public Task<GitHubRunner?> GetRunnerAsync(string scope, long runnerId, CancellationToken ct) =>
        GetAsync($"{ScopePath(scope)}/actions/runners/{runnerId}", "runner", GitHubJsonContext.Default.GitHubRunner, ct);

    /// <summary>Deletes a runner. True when it is gone (also when it already was); false when GitHub refuses because it is busy.</summary>
    public async Task<bool> DeleteRunnerAsync(string scope, long runnerId, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Delete, $"{ScopePath(scope)}/actions/runners/{runnerId}", "delete-runner", null, ct).ConfigureAwait(false);
        return response.StatusCode switch
        {
            HttpStatusCode.NoContent or HttpStatusCode.NotFound or HttpStatusCode.OK => true,
            HttpStatusCode.UnprocessableEntity => false,
            _ => throw await ErrorAsync(response, "delete runner", ct).ConfigureAwait(false),
        };
    }

    /// <summary>POST generate-jitconfig. The answer holds a secret: callers hand it on and drop it.</summary>
    public async Task<JitConfigResponse> GenerateJitConfigAsync(string scope, JitConfigRequest body, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, $"{ScopePath(scope)}/actions/runners/generate-jitconfig", "generate-jitconfig",
            () => JsonContent.Create(body, GitHubJsonContext.Default.JitConfigRequest), ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created && response.StatusCode != HttpStatusCode.OK)
        {
            throw await ErrorAsync(response, "generate-jitconfig", ct).ConfigureAwait(false);
        }

        return await ReadAsync(response, GitHubJsonContext.Default.JitConfigResponse, "generate-jitconfig", ct).ConfigureAwait(false);
    }

    public async Task<AuthenticationToken> CreateRegistrationTokenAsync(string scope, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, $"{ScopePath(scope)}/actions/runners/registration-token", "registration-token", null, ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created && response.StatusCode != HttpStatusCode.OK)
        {
            throw await ErrorAsync(response, "registration-token", ct).ConfigureAwait(false);
        }

        return await ReadAsync(response, GitHubJsonContext.Default.AuthenticationToken, "registration-token", ct).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- plumbing

    internal static Uri Combine(Uri apiUrl, string pathAndQuery) => new(apiUrl.ToString().TrimEnd('/') + pathAndQuery);

    internal static void AddStandardHeaders(HttpRequestMessage request)
    {
        request.Headers.Accept.ParseAdd("application/vnd.github+json");
        request.Headers.Add("X-GitHub-Api-Version", "2022-11-28");
        request.Headers.UserAgent.ParseAdd(UserAgent);
    }

    internal static string MessageOf(string body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, GitHubJsonContext.Default.GitHubError)?.Message ?? body;
        }
        catch (JsonException)
        {
            return body.Length > 200 ? body[..200] : body;
        }
    }

    private async Task<IReadOnlyList<TItem>> ListAsync<TList, TItem>(string first, string endpoint, JsonTypeInfo<TList> type, Func<TList, IReadOnlyList<TItem>> items, CancellationToken ct)
        where TList : class
    {
        var all = new List<TItem>();
        string? next = first;
        var origin = options.Value.ApiUrl.GetLeftPart(UriPartial.Authority);
        for (var page = 0; next is not null; page++)
        {
            if (page == MaxPages)
            {
                LogTooManyPages(logger, endpoint, MaxPages);
                break;
            }

            var (value, link) = await GetWithLinkAsync(next, endpoint, type, ct).ConfigureAwait(false);
            if (value is null)
            {
                break;
            }

            all.AddRange(items(value) ?? []);
            // A next page is followed only on the API's own origin: the token must never go elsewhere.
            if (link is not null && !(Uri.TryCreate(link, UriKind.Absolute, out var u) && string.Equals(u.GetLeftPart(UriPartial.Authority), origin, StringComparison.OrdinalIgnoreCase)))
            {
                LogForeignLink(logger, endpoint);
                break;
            }

            next = link;
        }

        return all;
    }

    private async Task<T?> GetAsync<T>(string pathAndQuery, string endpoint, JsonTypeInfo<T> type, CancellationToken ct) where T : class =>
        (await GetWithLinkAsync(pathAndQuery, endpoint, type, ct).ConfigureAwait(false)).Value;

    /// <summary>A conditional GET: a 304 returns the value remembered with the ETag. 404 is null.</summary>
    private async Task<(T? Value, string? Next)> GetWithLinkAsync<T>(string pathOrUrl, string endpoint, JsonTypeInfo<T> type, CancellationToken ct) where T : class
    {
        var key = pathOrUrl;
        _cache.TryGetValue(key, out var cached);
        using var response = await SendAsync(HttpMethod.Get, pathOrUrl, endpoint, null, ct, cached.ETag).ConfigureAwait(false);
        var next = NextLink(response);
        if (response.StatusCode == HttpStatusCode.NotModified && cached.Value is T hit)
        {
            return (hit, next);
        }

        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            _cache.TryRemove(key, out _);
            return (null, null);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, endpoint, ct).ConfigureAwait(false);
        }

        var value = await ReadAsync(response, type, endpoint, ct).ConfigureAwait(false);
        if (response.Headers.ETag is { } etag)
        {
            _cache[key] = (etag.ToString(), value);
        }

        return (value, next);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, string endpoint, CancellationToken ct)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync(type, ct).ConfigureAwait(false)
                ?? throw new GitHubApiException($"GitHub {endpoint}: empty answer", response.StatusCode);
        }
        catch (JsonException e)
        {
            throw new GitHubApiException($"GitHub {endpoint}: the answer is not the expected shape ({e.Message})", response.StatusCode, e);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathOrUrl, string endpoint, Func<HttpContent>? content, CancellationToken ct, string? etag = null)
    {
        var mutating = method != HttpMethod.Get;
        var url = pathOrUrl.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? new Uri(pathOrUrl) : Combine(options.Value.ApiUrl, pathOrUrl);
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            // Mutating calls go one at a time (GitHub's best practices), but no wait below ever holds the lock.
            if (mutating)
            {
                await _writes.WaitAsync(ct).ConfigureAwait(false);
            }

            try
            {
                using var request = new HttpRequestMessage(method, url) { Content = content?.Invoke() };
                AddStandardHeaders(request);
                request.Headers.Authorization = await credentials.GetAuthorizationAsync(ct).ConfigureAwait(false);
                if (etag is not null)
                {
                    request.Headers.TryAddWithoutValidation("If-None-Match", etag);
                }

                response = await http.SendAsync(request, ct).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (attempt < MaxAttempts)
            {
                LogRetry(logger, endpoint, 0, attempt, e.Message);
                Release(mutating);
                await Task.Delay(Backoff(attempt), time, ct).ConfigureAwait(false);
                continue;
            }
            catch
            {
                Release(mutating);
                throw;
            }

            Release(mutating);
            telemetry.GitHubRequest(endpoint, (int)response.StatusCode);
            ReadRateLimit(response);
            var status = (int)response.StatusCode;
            if (status is 403 or 429)
            {
                var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                if (RateLimitWait(response.Headers, status, body, attempt, time.GetUtcNow()) is not { } wait)
                {
                    // A real permission error: fail fast, never retried as if it were a limit.
                    return Buffered(response, body);
                }

                response.Dispose();
                if (wait > MaxRateLimitWait || attempt >= MaxAttempts)
                {
                    throw new GitHubApiException($"GitHub {endpoint}: rate limited; retry in {wait.TotalSeconds:F0} s", (HttpStatusCode)status);
                }

                LogRateLimited(logger, endpoint, status, wait.TotalSeconds);
                await Task.Delay(wait, time, ct).ConfigureAwait(false);
                continue;
            }

            if (status >= 500 && attempt < MaxAttempts)
            {
                response.Dispose();
                LogRetry(logger, endpoint, status, attempt, "server error");
                await Task.Delay(Backoff(attempt), time, ct).ConfigureAwait(false);
                continue;
            }

            return response;
        }
    }

    private void Release(bool mutating)
    {
        if (mutating)
        {
            _writes.Release();
        }
    }

    /// <summary>The response with its body already read (for the caller's error message).</summary>
    private static HttpResponseMessage Buffered(HttpResponseMessage response, string body)
    {
        var headers = response.Content.Headers.ContentType;
        response.Content = new StringContent(body);
        if (headers is not null)
        {
            response.Content.Headers.ContentType = headers;
        }

        return response;
    }

    /// <summary>
    /// How long a 403/429 asks us to wait, as GitHub documents it ("Rate limits for the REST API", "Exceeding
    /// the rate limit"); null when it is no limit at all (a permission error). In GitHub's order:
    /// <c>retry-after</c>; <c>x-ratelimit-remaining: 0</c> (the primary limit) until <c>x-ratelimit-reset</c>;
    /// a secondary limit, known by its message or documentation URL (its <c>x-ratelimit-remaining</c> stays
    /// above 0), at least a minute, doubling; a 429 is always a limit.
    /// </summary>
    internal static TimeSpan? RateLimitWait(System.Net.Http.Headers.HttpResponseHeaders h, int status, string body, int attempt, DateTimeOffset now)
    {
        if (h.RetryAfter?.Delta is { } delta)
        {
            return delta;
        }

        if (h.TryGetValues("retry-after", out var ra) && int.TryParse(ra.FirstOrDefault(), CultureInfo.InvariantCulture, out var seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }

        if (Header(h, "x-ratelimit-remaining") == 0)
        {
            var wait = Header(h, "x-ratelimit-reset") is { } reset ? DateTimeOffset.FromUnixTimeSeconds(reset) - now : TimeSpan.FromMinutes(1);
            return wait < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait;
        }

        if (status == 429 || IsSecondaryLimit(body))
        {
            return TimeSpan.FromMinutes(Math.Pow(2, attempt - 1));
        }

        return null;
    }

    /// <summary>GitHub's secondary-limit answers say so in their message and link the secondary-limit docs.</summary>
    internal static bool IsSecondaryLimit(string body)
    {
        try
        {
            if (JsonSerializer.Deserialize(body, GitHubJsonContext.Default.GitHubError) is { } error)
            {
                return error.Message?.Contains("secondary rate limit", StringComparison.OrdinalIgnoreCase) == true
                    || error.Message?.Contains("abuse", StringComparison.OrdinalIgnoreCase) == true
                    || error.DocumentationUrl?.Contains("secondary-rate-limits", StringComparison.OrdinalIgnoreCase) == true;
            }
        }
        catch (JsonException)
        {
        }

        return body.Contains("secondary rate limit", StringComparison.OrdinalIgnoreCase);
    }

    private void ReadRateLimit(HttpResponseMessage response)
    {
        if (Header(response.Headers, "x-ratelimit-remaining") is { } remaining)
        {
            var resource = response.Headers.TryGetValues("x-ratelimit-resource", out var r) ? r.FirstOrDefault() ?? "core" : "core";
            telemetry.RateLimitRemaining(resource, remaining);
        }
    }

    private static long? Header(System.Net.Http.Headers.HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) && long.TryParse(values.FirstOrDefault(), CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string? NextLink(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var links))
        {
            return null;
        }

        foreach (var part in string.Join(",", links).Split(','))
        {
            var segments = part.Split(';');
            if (segments.Length > 1 && segments[1].Contains("rel=\"next\"", StringComparison.Ordinal))
            {
                return segments[0].Trim().Trim('<', '>');
            }
        }

        return null;
    }

    private static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds((250 * Math.Pow(2, attempt - 1)) + Random.Shared.Next(0, 250));

    private static async Task<GitHubApiException> ErrorAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        return new GitHubApiException($"GitHub {what}: {(int)response.StatusCode} {MessageOf(body)}", response.StatusCode);
    }

    public void Dispose() => _writes.Dispose();

    [LoggerMessage(Level = LogLevel.Error, Message = "GitHub {Endpoint}: the list has more than {Pages} pages; the rest is not read")]
    private static partial void LogTooManyPages(ILogger logger, string endpoint, int pages);

    [LoggerMessage(Level = LogLevel.Error, Message = "GitHub {Endpoint}: the next page is on another origin than GitHub:ApiUrl; not followed (the token would go there)")]
    private static partial void LogForeignLink(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub {Endpoint} rate limited ({Status}); waiting {WaitSeconds:F0} s as GitHub asks")]
    private static partial void LogRateLimited(ILogger logger, string endpoint, int status, double waitSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub {Endpoint} failed ({Status}, attempt {Attempt}): {Error}; retrying")]
    private static partial void LogRetry(ILogger logger, string endpoint, int status, int attempt, string error);
}
