using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>
/// Delivers <c>workflow_job</c> events to the configured URLs in order, signed the way GitHub signs them
/// (<c>X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body)</c>).
/// </summary>
public sealed class WebhookDispatcher : IAsyncDisposable
{
    private readonly Channel<(WebhookTarget Target, string Body, string Delivery)> _queue =
        Channel.CreateUnbounded<(WebhookTarget, string, string)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;
    private long _delivered;
    private long _failed;

    public WebhookDispatcher(HttpClient http, ILogger<WebhookDispatcher> logger)
    {
        _http = http;
        _logger = logger;
        _pump = Task.Run(PumpAsync);
    }

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Failed => Interlocked.Read(ref _failed);

    internal void Enqueue(GitHubSimulator sim, string action, SimJob job)
    {
        var targets = sim.WebhookTargets();
        if (targets.Count == 0)
        {
            return;
        }

        var body = sim.Read(() => SimJson.Webhook(action, job).ToJsonString());
        foreach (var target in targets)
        {
            _queue.Writer.TryWrite((target, body, Guid.NewGuid().ToString()));
        }
    }

    public static string Sign(string secret, byte[] body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    private async Task PumpAsync()
    {
        try
        {
            await foreach (var (target, body, delivery) in _queue.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                var bytes = Encoding.UTF8.GetBytes(body);
                using var request = new HttpRequestMessage(HttpMethod.Post, target.Url) { Content = new ByteArrayContent(bytes) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.Add("X-GitHub-Event", "workflow_job");
                request.Headers.Add("X-GitHub-Delivery", delivery);
                request.Headers.Add("X-GitHub-Hook-ID", "1");
                request.Headers.UserAgent.ParseAdd("GitHub-Hookshot/sandbox");
                if (!string.IsNullOrEmpty(target.Secret))
                {
                    request.Headers.Add("X-Hub-Signature-256", Sign(target.Secret, bytes));
                }

                try
                {
                    using var response = await _http.SendAsync(request, _stop.Token).ConfigureAwait(false);
                    Interlocked.Increment(ref response.IsSuccessStatusCode ? ref _delivered : ref _failed);
                    if (!response.IsSuccessStatusCode)
                    {
                        _logger.LogWarning("Webhook delivery {Delivery} to {Url} answered {Status}", delivery, target.Url, (int)response.StatusCode);
                    }
                }
                catch (HttpRequestException e)
                {
                    // GitHub does not retry failed deliveries either; a lost webhook is what polling and reconciliation cover.
                    Interlocked.Increment(ref _failed);
                    _logger.LogWarning("Webhook delivery {Delivery} to {Url} failed: {Error}", delivery, target.Url, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
        _stop.Dispose();
    }
}
