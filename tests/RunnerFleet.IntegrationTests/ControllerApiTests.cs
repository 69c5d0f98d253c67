using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RunnerFleet.Controller.GitHub;

namespace RunnerFleet.IntegrationTests;

/// <summary>The controller's HTTP surface, with in-process simulated runners (no containers needed for these).</summary>
[Trait("Category", "Api")]
[Collection(nameof(DockerCollection))]
public sealed class ControllerApiTests(DockerEnvironment docker) : IAsyncLifetime
{
    private FleetUnderTest _fleet = null!;
    private readonly HttpClient _http = new();

    public async ValueTask InitializeAsync() =>
        _fleet = await FleetUnderTest.StartAsync(docker, ["octo/web", "octo/api"],
            [new() { ["Name"] = "sim", ["Provider"] = "inprocess", ["Labels:0"] = "linux", ["MaxRunners"] = "5" }], webhooks: false);

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _fleet.DisposeAsync();
    }

    private string Secret => _fleet.App.Configuration["GitHub:WebhookSecret"]!;

    private async Task<HttpResponseMessage> PostWebhookAsync(string body, string @event = "workflow_job", string? signature = "sign", string? delivery = null)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_fleet.ControllerUrl, "/webhooks/github")) { Content = new ByteArrayContent(bytes) };
        request.Headers.Add("X-GitHub-Event", @event);
        request.Headers.Add("X-GitHub-Delivery", delivery ?? Guid.NewGuid().ToString());
        if (signature is not null)
        {
            request.Headers.Add("X-Hub-Signature-256", signature == "sign" ? WebhookSignature.Sign(Secret, bytes) : signature);
        }

        return await _http.SendAsync(request, TestContext.Current.CancellationToken);
    }

    /// <summary>A queued job of a private repository: no fork pull request check, so no run lookup.</summary>
    private static string QueuedPayload(long id, string repo, params string[] labels) => QueuedPayload(id, repo, "queued", true, labels);

    private static string QueuedPayload(long id, string repo, string action, bool isPrivate, params string[] labels) => JsonSerializer.Serialize(new
    {
        action,
        workflow_job = new { id, run_id = 1, status = "queued", labels, created_at = DateTimeOffset.UtcNow },
        repository = new { id = 1, full_name = repo, @private = isPrivate },
    });

    /// <summary>Issue 15 item 6: refused before the body is read, and a repository the fleet does not watch is ignored.</summary>
    [Fact]
    [Trait("Category", "Security")]
    public async Task A_delivery_without_signature_or_event_is_refused_unread_and_one_for_an_unwatched_repository_is_ignored()
    {
        // No signature: 401 before the body is read. With "Expect: 100-continue" the client sends the body only once the
        // server starts reading it (Kestrel sends 100 then), and this body never ends: only an answer given unread arrives.
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_fleet.ControllerUrl, "/webhooks/github")) { Content = new StreamContent(new EndlessStream()) })
        {
            request.Headers.ExpectContinue = true;
            request.Headers.Add("X-GitHub-Event", "workflow_job");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        // A signature but no event header: 400.
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_fleet.ControllerUrl, "/webhooks/github")) { Content = new StringContent("{}") })
        {
            request.Headers.Add("X-Hub-Signature-256", WebhookSignature.Sign(Secret, Encoding.UTF8.GetBytes("{}")));
            Assert.Equal(HttpStatusCode.BadRequest, (await _http.SendAsync(request, TestContext.Current.CancellationToken)).StatusCode);
        }

        // Signed, but for a repository this fleet neither lists nor owns through an organization: ignored, stored nowhere.
        var response2 = await PostWebhookAsync(QueuedPayload(9901, "evil/elsewhere", "self-hosted", "linux"));
        Assert.Equal(HttpStatusCode.NoContent, response2.StatusCode);
        Assert.DoesNotContain(await _fleet.Store.ListJobsAsync(null, 1000, TestContext.Current.CancellationToken), j => j.Id == 9901);
        var traversal = await PostWebhookAsync(QueuedPayload(9902, "octo/..", "self-hosted", "linux"));
        Assert.Equal(HttpStatusCode.NoContent, traversal.StatusCode);
        Assert.DoesNotContain(await _fleet.Store.ListJobsAsync(null, 1000, TestContext.Current.CancellationToken), j => j.Id == 9902);
    }

    /// <summary>A request body that never ends: only a server that answers before reading it can answer.</summary>
    private sealed class EndlessStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => 0; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) { Thread.Sleep(100); buffer[offset] = (byte)' '; return 1; }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task A_webhook_without_a_valid_signature_is_refused_with_401()
    {
        var body = QueuedPayload(1, "octo/web", "self-hosted", "linux");

        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWebhookAsync(body, signature: null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWebhookAsync(body, signature: "sha256=" + new string('0', 64))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostWebhookAsync(body, signature: WebhookSignature.Sign("another-secret", Encoding.UTF8.GetBytes(body)))).StatusCode);
        Assert.Empty(await _fleet.Store.ListJobsAsync(null, 10, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_signed_but_malformed_webhook_gets_400_and_changes_nothing()
    {
        var response = await PostWebhookAsync("{\"action\":\"queued\",\"workflow_job\":{");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("error", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostWebhookAsync("{\"action\":\"queued\"}")).StatusCode);
        Assert.Empty(await _fleet.Store.ListJobsAsync(null, 10, TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("ping")]
    [InlineData("push")]
    [InlineData("issues")]
    public async Task Events_it_does_not_use_get_2xx_and_no_action(string @event)
    {
        var response = await PostWebhookAsync("{\"zen\":\"Keep it logically awesome.\"}", @event);

        Assert.True(response.IsSuccessStatusCode);
        Assert.Empty(await _fleet.Store.ListJobsAsync(null, 10, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_workflow_job_action_it_does_not_know_is_read_by_the_jobs_status()
    {
        var response = await PostWebhookAsync(QueuedPayload(778, "octo/web", "some_future_action", true, "self-hosted", "linux"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("sim", Assert.Single(await _fleet.Store.ListJobsAsync(null, 10, TestContext.Current.CancellationToken)).Pool);
    }

    [Fact]
    public async Task A_public_repositorys_job_whose_run_cannot_be_read_waits_without_a_pool()
    {
        // Run 1 does not exist on the simulator: the job might be a fork's pull request, so no runner yet.
        var response = await PostWebhookAsync(QueuedPayload(779, "octo/web", "queued", false, "self-hosted", "linux"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = Assert.Single(await _fleet.Store.ListJobsAsync(null, 10, TestContext.Current.CancellationToken));
        Assert.Null(job.Pool);
        Assert.Null(job.Refusal);
    }

    [Fact]
    public async Task An_oversized_webhook_gets_413()
    {
        var body = "{\"padding\":\"" + new string('x', 2 * 1024 * 1024) + "\"}";

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await PostWebhookAsync(body)).StatusCode);
    }

    [Fact]
    public async Task A_queued_webhook_becomes_demand_once_even_when_delivered_twice()
    {
        var body = QueuedPayload(777, "octo/web", "self-hosted", "linux");

        Assert.Equal(HttpStatusCode.Accepted, (await PostWebhookAsync(body)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await PostWebhookAsync(body)).StatusCode);

        var jobs = await _http.GetFromJsonAsync<JsonElement>(new Uri(_fleet.ControllerUrl, "/api/jobs"), TestContext.Current.CancellationToken);
        var job = Assert.Single(jobs.EnumerateArray());
        Assert.Equal(777, job.GetProperty("id").GetInt64());
        Assert.Equal("octo/web", job.GetProperty("repository").GetString());
        Assert.Equal("sim", job.GetProperty("pool").GetString());
        Assert.Equal(["self-hosted", "linux"], job.GetProperty("labels").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal("queued", job.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Polling_alone_serves_jobs_and_an_idle_poll_costs_no_rate_limit()
    {
        var run = _fleet.GitHub.QueueJobs("octo/api", ["self-hosted", "linux"], 4, TimeSpan.FromMilliseconds(200));
        await FleetUnderTest.WaitUntilAsync(async () => run.Jobs.All(j => j.Status == "completed") && await _fleet.AllFinalAsync() && (await _fleet.Store.ListRunnersAsync(10, CancellationToken.None)).Count == 4,
            TimeSpan.FromMinutes(2), _fleet.DescribeAsync);

        // Once the fleet has caught up (the last changes cost one request each), whole poll cycles
        // (2 repositories × queued/in_progress) must be free 304s. Without ETags every window would cost.
        var idleWindowWasFree = false;
        for (var window = 0; window < 4 && !idleWindowWasFree; window++)
        {
            var charged = _fleet.GitHub.RateLimitedRequests;
            var free = _fleet.GitHub.NotModifiedResponses;
            await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(_fleet.GitHub.NotModifiedResponses >= free + 8), TimeSpan.FromSeconds(30), () => Task.FromResult("no further polls"));
            idleWindowWasFree = _fleet.GitHub.RateLimitedRequests == charged;
        }

        Assert.True(idleWindowWasFree, "every idle poll window cost rate limit");

        var runners = await _http.GetFromJsonAsync<JsonElement>(new Uri(_fleet.ControllerUrl, "/api/runners"), TestContext.Current.CancellationToken);
        Assert.Equal(4, runners.GetArrayLength());
        foreach (var r in runners.EnumerateArray())
        {
            Assert.Equal("Gone", r.GetProperty("state").GetString());
            Assert.Equal("sim", r.GetProperty("pool").GetString());
            Assert.Equal("inprocess", r.GetProperty("provider").GetString());
            foreach (var field in new[] { "name", "requestedAt", "createdAt", "completedAt", "destroyedAt" })
            {
                Assert.NotEqual(JsonValueKind.Null, r.GetProperty(field).ValueKind);
            }
        }

        var pools = await _http.GetFromJsonAsync<JsonElement>(new Uri(_fleet.ControllerUrl, "/api/pools"), TestContext.Current.CancellationToken);
        var pool = Assert.Single(pools.EnumerateArray());
        Assert.Equal("sim", pool.GetProperty("name").GetString());
        Assert.Equal(0, pool.GetProperty("queuedJobs").GetInt32());
        Assert.Equal(5, pool.GetProperty("maxRunners").GetInt32());
    }

    [Fact]
    public async Task A_replayed_delivery_is_acknowledged_and_ignored()
    {
        var delivery = Guid.NewGuid().ToString();
        var queued = QueuedPayload(4242, "octo/web", "self-hosted", "linux");
        var completed = queued.Replace("\"queued\"", "\"completed\"", StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Accepted, (await PostWebhookAsync(queued, delivery: delivery)).StatusCode);
        // The same delivery id again, even with another body (a forged replay), changes nothing.
        Assert.Equal(HttpStatusCode.NoContent, (await PostWebhookAsync(completed, delivery: delivery)).StatusCode);

        var job = Assert.Single(await _fleet.Store.ListJobsAsync(null, 10, TestContext.Current.CancellationToken));
        Assert.Equal(RunnerFleet.Controller.Fleet.JobStatus.Queued, job.Status);
    }

    [Fact]
    public async Task Health_endpoints_answer()
    {
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(_fleet.ControllerUrl, "/health"), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(_fleet.ControllerUrl, "/alive"), TestContext.Current.CancellationToken)).StatusCode);
    }
}
