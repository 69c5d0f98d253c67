using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;

namespace RunnerFleet.Controller.GitHub.ScaleSets;

/// <summary>
/// The Actions service's runner scale-set API, as actions/scaleset speaks it: a registration token (from
/// the REST API) buys an admin token (<c>POST /actions/runner-registration</c>, RemoteAuth), cached per
/// scope and renewed five minutes before its JWT expires or at a 401. With it: runner groups, scale sets,
/// message sessions (409 when another listener holds one), the message queue (its own token), JIT configs
/// and runner removal (refused while a job runs). Every call carries <c>api-version=6.0-preview</c>.
/// </summary>
internal sealed class ActionsServiceClient(HttpClient http, GitHubApiClient github, IOptions<GitHubOptions> options, TimeProvider time)
{
    private const string ApiVersion = "api-version=6.0-preview";
    private static readonly TimeSpan s_renewBefore = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, (Uri Service, string Token, DateTimeOffset Expires)> _admin = new(StringComparer.OrdinalIgnoreCase);
    private readonly HttpClient _http = WithUserAgent(http);

    /// <summary>Every request of this client carries the User-Agent: registration, admin calls, the message queue (see <see cref="GitHubApiClient.UserAgent"/>).</summary>
    private static HttpClient WithUserAgent(HttpClient client)
    {
        if (client.DefaultRequestHeaders.UserAgent.Count == 0)
        {
            client.DefaultRequestHeaders.UserAgent.ParseAdd(GitHubApiClient.UserAgent);
        }

        return client;
    }

    /// <summary>The default runner group's id: always 1, no lookup (actions-runner-controller and the scaleset example skip it).</summary>
    public const long DefaultRunnerGroupId = 1;

    /// <summary>How often a transient failure (5xx, a dropped connection) is retried in place before it is the caller's.</summary>
    internal const int TransientAttempts = 3;

    public async Task<long> RunnerGroupIdAsync(string scope, string groupName, CancellationToken ct)
    {
        if (string.Equals(groupName, "Default", StringComparison.OrdinalIgnoreCase))
        {
            return DefaultRunnerGroupId;
        }

        var groups = await SendAsync(scope, HttpMethod.Get, $"_apis/runtime/runnergroups/?groupName={Uri.EscapeDataString(groupName)}", null, ScaleSetJsonContext.Default.ActionsListRunnerGroup, ct).ConfigureAwait(false);
        return groups?.Value.FirstOrDefault(g => string.Equals(g.Name, groupName, StringComparison.OrdinalIgnoreCase))?.Id
            ?? throw new ActionsServiceException(HttpStatusCode.NotFound, null, $"runner group {groupName} does not exist in {scope}");
    }

    /// <summary>The scale set of that name in the runner group, made when missing.</summary>
    public async Task<ScaleSet> GetOrCreateScaleSetAsync(string scope, string name, long runnerGroupId, IReadOnlyList<string> labels, CancellationToken ct)
    {
        var found = await SendAsync(scope, HttpMethod.Get, $"_apis/runtime/runnerscalesets?runnerGroupId={runnerGroupId}&name={Uri.EscapeDataString(name)}", null, ScaleSetJsonContext.Default.ActionsListScaleSet, ct).ConfigureAwait(false);
        if (found?.Value.FirstOrDefault() is { } existing)
        {
            return existing;
        }

        var body = new ScaleSetCreate(name, runnerGroupId, [.. labels.Select(l => new ScaleSetLabel("System", l))], new ScaleSetSetting(true, true));
        return await SendAsync(scope, HttpMethod.Post, "_apis/runtime/runnerscalesets", () => JsonContent.Create(body, ScaleSetJsonContext.Default.ScaleSetCreate), ScaleSetJsonContext.Default.ScaleSet, ct).ConfigureAwait(false)
            ?? throw new ActionsServiceException(HttpStatusCode.InternalServerError, null, "empty scale set answer");
    }

    /// <summary>Opens the scale set's message session. Throws <see cref="ActionsServiceException"/> with <c>Conflict</c> when another listener holds it.</summary>
    public async Task<ScaleSetSession> OpenSessionAsync(string scope, long scaleSetId, string owner, CancellationToken ct) =>
        await SendAsync(scope, HttpMethod.Post, $"_apis/runtime/runnerscalesets/{scaleSetId}/sessions", () => JsonContent.Create(new SessionCreate(owner), ScaleSetJsonContext.Default.SessionCreate), ScaleSetJsonContext.Default.ScaleSetSession, ct).ConfigureAwait(false)
        ?? throw new ActionsServiceException(HttpStatusCode.InternalServerError, null, "empty session answer");

    /// <summary>A new message-queue token for the session (after the queue answered 401).</summary>
    public async Task<ScaleSetSession> RefreshSessionAsync(string scope, long scaleSetId, string sessionId, CancellationToken ct) =>
        await SendAsync(scope, HttpMethod.Patch, $"_apis/runtime/runnerscalesets/{scaleSetId}/sessions/{sessionId}", null, ScaleSetJsonContext.Default.ScaleSetSession, ct).ConfigureAwait(false)
        ?? throw new ActionsServiceException(HttpStatusCode.InternalServerError, null, "empty session answer");

    public async Task CloseSessionAsync(string scope, long scaleSetId, string sessionId, CancellationToken ct) =>
        await SendAsync(scope, HttpMethod.Delete, $"_apis/runtime/runnerscalesets/{scaleSetId}/sessions/{sessionId}", null, ScaleSetJsonContext.Default.ActionsError, ct).ConfigureAwait(false);

    /// <summary>The long poll: a message, none (202 after the service's wait), or the queue token expired (401).</summary>
    public async Task<(ScaleSetPollOutcome Outcome, ScaleSetMessage? Message)> PollAsync(ScaleSetSession session, long lastMessageId, int maxCapacity, CancellationToken ct)
    {
        // lastMessageId only once there is one (actions/scaleset session_client.go).
        using var request = new HttpRequestMessage(HttpMethod.Get, lastMessageId > 0 ? $"{session.MessageQueueUrl}?lastMessageId={lastMessageId}" : session.MessageQueueUrl);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.MessageQueueAccessToken);
        request.Headers.Accept.ParseAdd("application/json; api-version=6.0-preview");
        request.Headers.Add("X-ScaleSetMaxCapacity", maxCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        return response.StatusCode switch
        {
            HttpStatusCode.OK => (ScaleSetPollOutcome.Message, await response.Content.ReadFromJsonAsync(ScaleSetJsonContext.Default.ScaleSetMessage, ct).ConfigureAwait(false)),
            HttpStatusCode.Accepted or HttpStatusCode.NoContent => (ScaleSetPollOutcome.Empty, null),
            HttpStatusCode.Unauthorized => (ScaleSetPollOutcome.TokenExpired, null),
            _ => throw await ErrorAsync(response, "message poll", ct).ConfigureAwait(false),
        };
    }

    /// <summary>Deletes a message from the queue (acknowledges it). False when the queue token expired (401): refresh the session and again.</summary>
    public async Task<bool> AcknowledgeAsync(ScaleSetSession session, long messageId, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"{session.MessageQueueUrl}/{messageId}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.MessageQueueAccessToken);
        using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            return false;
        }

        if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.NotFound)
        {
            throw await ErrorAsync(response, "acknowledge", ct).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>
    /// Acquires available jobs for the scale set (<c>JobAvailable</c> messages): GHES leaves them available
    /// until acquired (actions/scaleset issue #75, PR #90). The session's queue token authorizes it, not the
    /// admin token. Returns the acquired request ids, or null when the queue token expired (401).
    /// </summary>
    public async Task<IReadOnlyList<long>?> AcquireJobsAsync(string scope, long scaleSetId, ScaleSetSession session, IReadOnlyList<long> requestIds, CancellationToken ct)
    {
        var (service, _, _) = await AdminAsync(scope, renew: false, ct).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(service, $"_apis/runtime/runnerscalesets/{scaleSetId}/acquirejobs?{ApiVersion}"))
        {
            Content = JsonContent.Create(requestIds, ScaleSetJsonContext.Default.IReadOnlyListInt64),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.MessageQueueAccessToken);
        using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            return null;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, "acquire jobs", ct).ConfigureAwait(false);
        }

        var acquired = await response.Content.ReadFromJsonAsync(ScaleSetJsonContext.Default.ActionsListInt64, ct).ConfigureAwait(false);
        return acquired?.Value ?? [];
    }

    /// <summary>The job events of a message body (a JSON array held as a string). A body of another shape is a <see cref="JsonException"/>.</summary>
    public static IReadOnlyList<ScaleSetJobEvent> Events(ScaleSetMessage message) =>
        string.IsNullOrEmpty(message.Body) ? [] : JsonSerializer.Deserialize(message.Body, ScaleSetJsonContext.Default.IReadOnlyListScaleSetJobEvent) ?? [];

    /// <summary>A JIT config for a runner of the scale set. The answer holds a secret: hand it on and drop it.</summary>
    public async Task<ScaleSetJitConfig> GenerateJitConfigAsync(string scope, long scaleSetId, string runnerName, CancellationToken ct) =>
        await SendAsync(scope, HttpMethod.Post, $"_apis/runtime/runnerscalesets/{scaleSetId}/generatejitconfig", () => JsonContent.Create(new ScaleSetJitRequest(runnerName, "_work"), ScaleSetJsonContext.Default.ScaleSetJitRequest), ScaleSetJsonContext.Default.ScaleSetJitConfig, ct).ConfigureAwait(false)
        ?? throw new ActionsServiceException(HttpStatusCode.InternalServerError, null, "empty JIT answer");

    /// <summary>Removes a scale-set runner. True when gone (also when it already was); false while it runs a job.</summary>
    public async Task<bool> RemoveRunnerAsync(string scope, long runnerId, CancellationToken ct)
    {
        try
        {
            await SendAsync(scope, HttpMethod.Delete, $"_apis/distributedtask/pools/0/agents/{runnerId}", null, ScaleSetJsonContext.Default.ActionsError, ct).ConfigureAwait(false);
            return true;
        }
        catch (ActionsServiceException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return true;
        }
        catch (ActionsServiceException e) when (e.TypeName?.Contains("JobStillRunning", StringComparison.Ordinal) == true)
        {
            return false;
        }
    }

    // ---------------------------------------------------------------- plumbing

    private async Task<T?> SendAsync<T>(string scope, HttpMethod method, string path, Func<HttpContent>? content, JsonTypeInfo<T> type, CancellationToken ct) where T : class
    {
        var renewed = false;
        for (var attempt = 1; ; attempt++)
        {
            var (service, token, _) = await AdminAsync(scope, renew: renewed, ct).ConfigureAwait(false);
            var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
            using var request = new HttpRequestMessage(method, new Uri(service, $"{path}{separator}{ApiVersion}")) { Content = content?.Invoke() };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (attempt < TransientAttempts && (e is HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested)))
            {
                // A dropped connection or a timeout: the call again, in place (actions/scaleset retries transient failures too).
                await Task.Delay(Backoff(attempt), time, ct).ConfigureAwait(false);
                continue;
            }

            using var _ = response;
            if (response.StatusCode == HttpStatusCode.Unauthorized && !renewed)
            {
                // The admin token lapsed early: get another, once.
                renewed = true;
                continue;
            }

            if ((int)response.StatusCode >= 500 && attempt < TransientAttempts)
            {
                await Task.Delay(Backoff(attempt), time, ct).ConfigureAwait(false);
                continue;
            }

            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, $"{method} {path}", ct).ConfigureAwait(false);
            }

            return response.StatusCode == HttpStatusCode.NoContent || response.Content.Headers.ContentLength == 0
                ? null
                : await response.Content.ReadFromJsonAsync(type, ct).ConfigureAwait(false);
        }
    }

    private async Task<(Uri Service, string Token, DateTimeOffset Expires)> AdminAsync(string scope, bool renew, CancellationToken ct)
    {
        if (!renew && _admin.TryGetValue(scope, out var cached) && cached.Expires - s_renewBefore > time.GetUtcNow())
        {
            return cached;
        }

        var registration = await github.CreateRegistrationTokenAsync(scope, ct).ConfigureAwait(false);
        var o = options.Value;
        HttpResponseMessage response;
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, GitHubApiClient.Combine(o.ApiUrl, "/actions/runner-registration"))
            {
                Content = JsonContent.Create(new RegistrationRequest(new Uri(o.EffectiveWebUrl, scope).ToString(), "register"), ScaleSetJsonContext.Default.RegistrationRequest),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("RemoteAuth", registration.Token);
            response = await _http.SendAsync(request, ct).ConfigureAwait(false);
            // A fresh registration token is not always accepted at once: actions/scaleset retries 401 and 403 here.
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden || (int)response.StatusCode >= 500)
            {
                if (attempt < RegistrationAttempts)
                {
                    response.Dispose();
                    await Task.Delay(Backoff(attempt), time, ct).ConfigureAwait(false);
                    continue;
                }
            }

            break;
        }

        using var _ = response;
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, "runner-registration", ct).ConfigureAwait(false);
        }

        var answer = await response.Content.ReadFromJsonAsync(ScaleSetJsonContext.Default.ActionsRegistration, ct).ConfigureAwait(false)
            ?? throw new ActionsServiceException(HttpStatusCode.InternalServerError, null, "empty runner-registration answer");
        var service = new Uri(answer.Url.EndsWith('/') ? answer.Url : answer.Url + "/");
        var admin = (service, answer.Token, Expiry(answer.Token) ?? time.GetUtcNow().AddHours(1));
        _admin[scope] = admin;
        return admin;
    }

    /// <summary>How often <c>runner-registration</c> is tried when it answers 401/403 or 5xx.</summary>
    internal const int RegistrationAttempts = 4;

    /// <summary>1 s, 2 s, 4 s, ... with jitter: transient failures pass, and a fleet of listeners does not retry in step.</summary>
    private static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds((1000 * Math.Pow(2, attempt - 1)) + Random.Shared.Next(0, 250));

    /// <summary>The <c>exp</c> of a JWT, without checking its signature (the service does); null when it is not one.</summary>
    internal static DateTimeOffset? Expiry(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload += new string('=', (4 - (payload.Length % 4)) % 4);
            using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)));
            return doc.RootElement.TryGetProperty("exp", out var exp) && exp.TryGetInt64(out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
    }

    private static async Task<ActionsServiceException> ErrorAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        ActionsError? error = null;
        try
        {
            error = text.Length > 0 ? JsonSerializer.Deserialize(text, ScaleSetJsonContext.Default.ActionsError) : null;
        }
        catch (JsonException)
        {
        }

        return new ActionsServiceException(response.StatusCode, error?.TypeName, $"Actions service {what}: {(int)response.StatusCode} {error?.Message ?? (text.Length > 200 ? text[..200] : text)}");
    }
}

internal enum ScaleSetPollOutcome { Message, Empty, TokenExpired }

/// <summary>An Actions service error: its status and, where the service names one, its exception type.</summary>
internal sealed class ActionsServiceException(HttpStatusCode statusCode, string? typeName, string message) : Exception(message)
{
    public HttpStatusCode StatusCode { get; } = statusCode;

    public string? TypeName { get; } = typeName;
}
