using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>
/// Typed Hetzner Cloud client (System.Text.Json source generation). Errors are decided on
/// <c>error.code</c>; <c>conflict</c>, <c>rate_limit_exceeded</c> (until <c>RateLimit-Reset</c>, capped),
/// <c>timeout</c>, <c>server_error</c>, <c>unavailable</c>, 5xx answers, network errors and requests that
/// take longer than <see cref="HetznerOptions.RequestTimeout"/> are retried with exponential backoff and
/// jitter. A retried create can find its first attempt done: the provider adopts the server by its label.
/// <c>RateLimit-*</c> headers feed a metric. Lists follow <c>meta.pagination.next_page</c>.
/// </summary>
internal sealed partial class HetznerClient(HttpClient http, IOptions<HetznerOptions> options, FleetTelemetry telemetry, TimeProvider time, ILogger<HetznerClient> logger, HetznerActionWatch watch)
{
    private const int MaxAttempts = 5;

    /// <summary>Below this many requests left in the hour, requests are spaced a second apart (the refill rate).</summary>
    private const long LowBudget = 60;

    private long _remaining = -1;

    /// <summary>How often a long wait for actions logs its progress.</summary>
    private static readonly TimeSpan s_progressEvery = TimeSpan.FromSeconds(15);

    /// <summary>The longest single wait on a rate limit; beyond it the call fails and the caller retries later.</summary>
    public TimeSpan MaxRateLimitWait { get; set; } = TimeSpan.FromSeconds(60);

    public async Task<HCreateServerResponse> CreateServerAsync(HCreateServerRequest request, CancellationToken ct) =>
        await SendAsync(HttpMethod.Post, "/servers", () => JsonContent.Create(request, HetznerJsonContext.Default.HCreateServerRequest), HetznerJsonContext.Default.HCreateServerResponse, ct).ConfigureAwait(false)
        ?? throw new HetznerApiException("server_error", "empty create answer", HttpStatusCode.InternalServerError);

    public async Task<HServer?> GetServerAsync(long id, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Get, $"/servers/{id}", null, HetznerJsonContext.Default.HServerResponse, ct, notFoundIsNull: true).ConfigureAwait(false))?.Server;

    public Task<IReadOnlyList<HServer>> ListServersAsync(string? labelSelector, CancellationToken ct) =>
        ListAsync($"/servers?{Query("label_selector", labelSelector)}", HetznerJsonContext.Default.HServersResponse, r => r.Servers, r => r.Meta, ct);

    /// <summary>Deletes a server; null when it was already gone.</summary>
    public async Task<HAction?> DeleteServerAsync(long id, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Delete, $"/servers/{id}", null, HetznerJsonContext.Default.HActionResponse, ct, notFoundIsNull: true).ConfigureAwait(false))?.Action;

    /// <summary>
    /// <c>POST /servers/{id}/actions/rebuild</c>: a new root disk from <paramref name="image"/> (an id, or a system image's
    /// name), cloud-init run again with <paramref name="userData"/>. The new root password Hetzner answers with (when the
    /// server has no SSH key) is not read.
    /// </summary>
    public async Task<HAction> RebuildServerAsync(long id, string image, string? userData, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Post, $"/servers/{id}/actions/rebuild", () => JsonContent.Create(new HRebuildRequest(image, userData), HetznerJsonContext.Default.HRebuildRequest), HetznerJsonContext.Default.HActionResponse, ct).ConfigureAwait(false))!.Action;

    /// <summary><c>PUT /servers/{id}</c> with labels: the set given replaces the server's labels.</summary>
    public async Task<HServer?> SetServerLabelsAsync(long id, IReadOnlyDictionary<string, string> labels, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Put, $"/servers/{id}", () => JsonContent.Create(new HUpdateServerRequest(labels), HetznerJsonContext.Default.HUpdateServerRequest), HetznerJsonContext.Default.HServerResponse, ct, notFoundIsNull: true).ConfigureAwait(false))?.Server;

    public async Task<HAction> GetActionAsync(long id, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Get, $"/actions/{id}", null, HetznerJsonContext.Default.HActionResponse, ct).ConfigureAwait(false))!.Action;

    /// <summary>Several actions in one request (<c>GET /actions?id=1&amp;id=2</c>).</summary>
    public async Task<IReadOnlyList<HAction>> GetActionsAsync(IReadOnlyCollection<long> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        var all = new List<HAction>();
        // At most 25 ids per request, as hcloud-go's waiter batches them.
        foreach (var chunk in ids.Chunk(25))
        {
            all.AddRange(await ListAsync("/actions?" + string.Join('&', chunk.Select(i => $"id={i}")), HetznerJsonContext.Default.HActionsResponse, r => r.Actions, r => r.Meta, ct).ConfigureAwait(false));
        }

        return all;
    }

    /// <summary>
    /// Waits until every action is done, polling first after <paramref name="firstPoll"/> (by default
    /// <see cref="HetznerOptions.ActionPollInterval"/>), then after the interval, half again as long each round up to
    /// 8 times it: a server's create takes 10-40 s, and polling it every second would spend most of the project's
    /// 3,600 requests an hour on waiting. Concurrent waits share their requests (<see cref="HetznerActionWatch"/>): a
    /// round reads what another wait's request saw within half an interval, and a round that asks asks for every
    /// watched action.
    /// </summary>
    public async Task<IReadOnlyList<HAction>> WaitForActionsAsync(IReadOnlyCollection<long> ids, CancellationToken ct, TimeSpan? firstPoll = null)
    {
        var started = time.GetUtcNow();
        var deadline = started + options.Value.ActionTimeout;
        var nextProgress = started + s_progressEvery;
        var every = options.Value.ActionPollInterval;
        var late = firstPoll is { } first && first > every;
        var wait = late ? firstPoll!.Value : every;
        var interval = late ? every : Grow(every);
        watch.Watch(ids);
        try
        {
            while (true)
            {
                await Task.Delay(wait, time, ct).ConfigureAwait(false);
                var now = time.GetUtcNow();
                IReadOnlyList<HAction> actions;
                try
                {
                    actions = await watch.ReadAsync(ids, now - (TimeSpan.FromTicks(Math.Min(wait.Ticks, interval.Ticks)) / 2), now, GetActionsAsync, ct).ConfigureAwait(false);
                }
                catch (HetznerApiException e) when (time.GetUtcNow() < deadline)
                {
                    // A failed poll (shared by concurrent creates) fails none of them: the servers exist; poll again.
                    LogPollFailed(logger, e.Message);
                    wait = TimeSpan.FromTicks(Math.Min(wait.Ticks, interval.Ticks));
                    continue;
                }

                wait = interval;
                interval = Grow(interval);
                if (actions.Count == ids.Count && actions.All(a => a.IsDone))
                {
                    return actions;
                }

                if (time.GetUtcNow() >= nextProgress)
                {
                    // A server can take minutes: say what it is doing, for people watching the log.
                    nextProgress = time.GetUtcNow() + s_progressEvery;
                    LogWaiting(logger, string.Join(", ", actions.Select(a => $"{a.Command} {a.Progress}%")), (time.GetUtcNow() - started).TotalSeconds);
                }

                if (time.GetUtcNow() > deadline)
                {
                    throw new HetznerApiException("timeout", $"actions {string.Join(",", ids)} still running after {options.Value.ActionTimeout}", HttpStatusCode.GatewayTimeout);
                }
            }
        }
        finally
        {
            watch.Unwatch(ids);
        }
    }

    private TimeSpan Grow(TimeSpan interval) => TimeSpan.FromTicks(Math.Min((long)(interval.Ticks * 1.5), options.Value.ActionPollInterval.Ticks * 8));

    public Task<IReadOnlyList<HServerType>> ListServerTypesAsync(CancellationToken ct) =>
        ListAsync("/server_types?", HetznerJsonContext.Default.HServerTypesResponse, r => r.ServerTypes, r => r.Meta, ct);

    public Task<IReadOnlyList<HLocation>> ListLocationsAsync(CancellationToken ct) =>
        ListAsync("/locations?", HetznerJsonContext.Default.HLocationsResponse, r => r.Locations, r => r.Meta, ct);

    /// <summary>Images by name and architecture (<c>ubuntu-24.04</c> exists as x86 and as arm).</summary>
    public Task<IReadOnlyList<HImage>> ListImagesAsync(string? name, string? architecture, CancellationToken ct) =>
        ListAsync($"/images?{Query("name", name)}&{Query("architecture", architecture)}", HetznerJsonContext.Default.HImagesResponse, r => r.Images, r => r.Meta, ct);

    /// <summary>An image or snapshot by id; null when there is none.</summary>
    public async Task<HImage?> GetImageAsync(long id, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Get, $"/images/{id}", null, HetznerJsonContext.Default.HImageResponse, ct, notFoundIsNull: true).ConfigureAwait(false))?.Image;

    public Task<IReadOnlyList<HSshKey>> ListSshKeysAsync(CancellationToken ct) =>
        ListAsync("/ssh_keys?", HetznerJsonContext.Default.HSshKeysResponse, r => r.SshKeys, r => r.Meta, ct);

    public Task<IReadOnlyList<HFirewall>> ListFirewallsAsync(string? name, CancellationToken ct) =>
        ListAsync($"/firewalls?{Query("name", name)}", HetznerJsonContext.Default.HFirewallsResponse, r => r.Firewalls, r => r.Meta, ct);

    public async Task<HFirewall> CreateFirewallAsync(HCreateFirewallRequest request, CancellationToken ct) =>
        (await SendAsync(HttpMethod.Post, "/firewalls", () => JsonContent.Create(request, HetznerJsonContext.Default.HCreateFirewallRequest), HetznerJsonContext.Default.HFirewallResponse, ct).ConfigureAwait(false))!.Firewall;

    // ---------------------------------------------------------------- plumbing

    private static string Query(string name, string? value) => value is null ? string.Empty : $"{name}={Uri.EscapeDataString(value)}";

    private async Task<IReadOnlyList<TItem>> ListAsync<TList, TItem>(string pathAndQuery, JsonTypeInfo<TList> type, Func<TList, IReadOnlyList<TItem>> items, Func<TList, HMeta?> meta, CancellationToken ct)
        where TList : class
    {
        var all = new List<TItem>();
        int? page = 1;
        var separator = pathAndQuery.EndsWith('?') ? string.Empty : "&";
        while (page is { } p && p <= 200)
        {
            var answer = await SendAsync(HttpMethod.Get, $"{pathAndQuery}{separator}page={p}&per_page=50", null, type, ct).ConfigureAwait(false);
            if (answer is null)
            {
                break;
            }

            all.AddRange(items(answer) ?? []);
            page = meta(answer)?.Pagination?.NextPage;
        }

        return all;
    }

    private async Task<T?> SendAsync<T>(HttpMethod method, string pathAndQuery, Func<HttpContent>? content, JsonTypeInfo<T> type, CancellationToken ct, bool notFoundIsNull = false) where T : class
    {
        var o = options.Value;
        var url = new Uri(o.ApiUrl.ToString().TrimEnd('/') + pathAndQuery);
        for (var attempt = 1; ; attempt++)
        {
            // Running low on the hourly budget (it refills one request a second): one request a second, not a burst into 429.
            if (Volatile.Read(ref _remaining) is >= 0 and < LowBudget)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(false);
            }

            using var request = new HttpRequestMessage(method, url) { Content = content?.Invoke() };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", o.Token);
            request.Headers.UserAgent.ParseAdd("RunnerFleet/1.0");
            HttpResponseMessage response;
            using var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            attemptTimeout.CancelAfter(o.RequestTimeout);
            try
            {
                response = await http.SendAsync(request, attemptTimeout.Token).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (attempt < MaxAttempts)
            {
                LogRetry(logger, method.Method, url.AbsolutePath, "network", attempt, e.Message);
                await Task.Delay(Backoff(attempt), time, ct).ConfigureAwait(false);
                continue;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                if (attempt >= MaxAttempts)
                {
                    throw new HetznerApiException("timeout", $"{method} {url.AbsolutePath}: no answer within {o.RequestTimeout.TotalSeconds:F0} s, {attempt} times", HttpStatusCode.GatewayTimeout);
                }

                LogRetry(logger, method.Method, url.AbsolutePath, "request_timeout", attempt, $"no answer within {o.RequestTimeout.TotalSeconds:F0} s");
                await Task.Delay(Backoff(attempt), time, ct).ConfigureAwait(false);
                continue;
            }

            using (response)
            {
                ReadRateLimit(response);
                if (response.IsSuccessStatusCode)
                {
                    if (response.StatusCode == HttpStatusCode.NoContent)
                    {
                        return null;
                    }

                    try
                    {
                        return await response.Content.ReadFromJsonAsync(type, ct).ConfigureAwait(false);
                    }
                    catch (JsonException e)
                    {
                        throw new HetznerApiException("invalid_response", $"{method} {url.AbsolutePath}: the answer is not the expected shape ({e.Message})", response.StatusCode);
                    }
                }

                var error = await ReadErrorAsync(response, ct).ConfigureAwait(false);
                if (notFoundIsNull && error.Code == "not_found")
                {
                    return null;
                }

                var retryable = error.Code is "conflict" or "rate_limit_exceeded" or "timeout" or "server_error" or "unavailable" || (int)response.StatusCode >= 500;
                if (!retryable || attempt >= MaxAttempts)
                {
                    throw new HetznerApiException(error.Code, error.Message, response.StatusCode);
                }

                var wait = error.Code == "rate_limit_exceeded" ? RateLimitWait(response, attempt) : Backoff(attempt);
                if (wait > MaxRateLimitWait)
                {
                    throw new HetznerApiException(error.Code, $"{error.Message}; the limit resets in {wait.TotalSeconds:F0} s", response.StatusCode);
                }

                LogRetry(logger, method.Method, url.AbsolutePath, error.Code, attempt, error.Message);
                await Task.Delay(wait, time, ct).ConfigureAwait(false);
            }
        }
    }

    private static async Task<HErrorBody> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        try
        {
            if (JsonSerializer.Deserialize(body, HetznerJsonContext.Default.HError)?.Error is { } e)
            {
                return e;
            }
        }
        catch (JsonException)
        {
        }

        // No error object (a proxy's 502, say): name it after the status.
        var code = response.StatusCode switch
        {
            HttpStatusCode.TooManyRequests => "rate_limit_exceeded",
            HttpStatusCode.BadGateway => "bad_gateway",
            HttpStatusCode.GatewayTimeout => "timeout",
            HttpStatusCode.NotFound => "not_found",
            _ when (int)response.StatusCode >= 500 => "server_error",
            _ => "unexpected_answer",
        };
        return new HErrorBody(code, body.Length > 200 ? body[..200] : body);
    }

    private TimeSpan RateLimitWait(HttpResponseMessage response, int attempt)
    {
        if (response.Headers.TryGetValues("RateLimit-Reset", out var values) && long.TryParse(values.FirstOrDefault(), CultureInfo.InvariantCulture, out var reset))
        {
            // The budget refills by one a second, so one request is possible well before the full reset.
            var untilReset = DateTimeOffset.FromUnixTimeSeconds(reset) - time.GetUtcNow();
            var oneRequest = TimeSpan.FromSeconds(Math.Max(1, Math.Min(untilReset.TotalSeconds, Math.Pow(2, attempt))));
            return oneRequest + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 250));
        }

        return Backoff(attempt);
    }

    private void ReadRateLimit(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("RateLimit-Remaining", out var values) && long.TryParse(values.FirstOrDefault(), CultureInfo.InvariantCulture, out var remaining))
        {
            telemetry.HetznerRateLimitRemaining(remaining);
            Volatile.Write(ref _remaining, remaining);
        }
    }

    private static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds((200 * Math.Pow(2, attempt - 1)) + Random.Shared.Next(0, 200));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hetzner action poll failed: {Error}; polling again")]
    private static partial void LogPollFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting for Hetzner: {Actions} after {Seconds:F0} s")]
    private static partial void LogWaiting(ILogger logger, string actions, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hetzner {Method} {Path}: {Code} (attempt {Attempt}): {Error}; retrying")]
    private static partial void LogRetry(ILogger logger, string method, string path, string code, int attempt, string error);
}
