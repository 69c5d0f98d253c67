using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;
using RunnerFleet.Sandbox.Runner;

namespace RunnerFleet.Controller.Tests.GitHub;

/// <summary>The simulator's runner scale-set protocol over real HTTP, as a listener uses it.</summary>
[Trait("Category", "ScaleSet")]
public sealed class ScaleSetSimulatorTests : IAsyncLifetime
{
    private static readonly string[] s_set = ["arm-set"];
    private SandboxServer _server = null!;
    private readonly HttpClient _http = new();

    public async ValueTask InitializeAsync()
    {
        _server = await SandboxServer.StartAsync(["http://127.0.0.1:0"], new GitHubSimulatorOptions
        {
            ScaleSetPollWait = TimeSpan.FromMilliseconds(400),
            ScaleSetAcquireTimeout = TimeSpan.FromSeconds(1),
        }, TimeProvider.System, ct: TestContext.Current.CancellationToken);
        _server.Simulator.EnsureRepository("octo/app");
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("RunnerFleet-tests/1.0");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<JsonNode> SendAsync(HttpMethod method, string url, string? token, object? body = null, HttpStatusCode expected = HttpStatusCode.OK, string scheme = "Bearer")
    {
        using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue(scheme, token);
        }

        using var response = await _http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == expected, $"{method} {url}: {(int)response.StatusCode} {text}");
        return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!;
    }

    [Fact]
    public async Task A_listener_registers_opens_the_one_session_and_hears_assignments_starts_completions_and_reassignments()
    {
        var sim = _server.Simulator;
        var api = _server.BaseUrl.ToString().TrimEnd('/');

        // GitHub refuses API requests without a User-Agent: the registration and the Actions service too.
        using (var bare = new HttpClient())
        {
            using var noAgent = await bare.PostAsync($"{api}/actions/runner-registration", JsonContent.Create(new { url = "https://github.com/octo/app", runner_event = "register" }), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Forbidden, noAgent.StatusCode);
            using var noAgentApi = await bare.GetAsync($"{api}/_actions/_apis/runtime/runnergroups/", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Forbidden, noAgentApi.StatusCode);
        }

        // Registration token → Actions service URL and admin token.
        var reg = await SendAsync(HttpMethod.Post, $"{api}/repos/octo/app/actions/runners/registration-token", "sandbox-token", expected: HttpStatusCode.Created);
        var service = await SendAsync(HttpMethod.Post, $"{api}/actions/runner-registration", reg["token"]!.GetValue<string>(), new { url = "https://github.com/octo/app", runner_event = "register" }, scheme: "RemoteAuth");
        var actions = service["url"]!.GetValue<string>();
        var admin = service["token"]!.GetValue<string>();
        var claims = JsonNode.Parse(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Pad(admin.Split('.')[1]))))!;
        Assert.InRange(claims["exp"]!.GetValue<long>(), DateTimeOffset.UtcNow.AddMinutes(50).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(70).ToUnixTimeSeconds());
        await SendAsync(HttpMethod.Get, $"{actions}_apis/runtime/runnergroups/?groupName=Default", "not-a-token", expected: HttpStatusCode.Unauthorized);

        var groups = await SendAsync(HttpMethod.Get, $"{actions}_apis/runtime/runnergroups/?groupName=Default&api-version=6.0-preview", admin);
        var groupId = groups["value"]![0]!["id"]!.GetValue<long>();
        var set = await SendAsync(HttpMethod.Post, $"{actions}_apis/runtime/runnerscalesets?api-version=6.0-preview", admin,
            new { name = "arm-set", runnerGroupId = groupId, labels = new[] { new { type = "System", name = "arm-set" } } });
        var setId = set["id"]!.GetValue<long>();
        await SendAsync(HttpMethod.Post, $"{actions}_apis/runtime/runnerscalesets", admin, new { name = "arm-set", runnerGroupId = groupId }, HttpStatusCode.Conflict);
        Assert.Equal(setId, (await SendAsync(HttpMethod.Get, $"{actions}_apis/runtime/runnerscalesets?name=arm-set", admin))["value"]![0]!["id"]!.GetValue<long>());

        // One session at a time.
        var session = await SendAsync(HttpMethod.Post, $"{actions}_apis/runtime/runnerscalesets/{setId}/sessions", admin, new { ownerName = "controller-a" });
        var second = await SendAsync(HttpMethod.Post, $"{actions}_apis/runtime/runnerscalesets/{setId}/sessions", admin, new { ownerName = "controller-b" }, HttpStatusCode.Conflict);
        Assert.StartsWith("GitHub.Actions.Runtime.WebApi.RunnerScaleSetSessionConflictException", second["typeName"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, session["statistics"]!["totalAssignedJobs"]!.GetValue<int>());
        var queue = session["messageQueueUrl"]!.GetValue<string>();
        var queueToken = session["messageQueueAccessToken"]!.GetValue<string>();

        // Nothing yet: 202 after the poll wait.
        await SendAsync(HttpMethod.Get, $"{queue}?lastMessageId=0", queueToken, expected: HttpStatusCode.Accepted);

        // Two jobs for the scale set: assigned, with statistics.
        sim.QueueJobs("octo/app", s_set, 2, TimeSpan.FromMilliseconds(200));
        var first = await SendAsync(HttpMethod.Get, $"{queue}?lastMessageId=0", queueToken);
        var events = JsonNode.Parse(first["body"]!.GetValue<string>())!.AsArray();
        Assert.Equal(["JobAssigned", "JobAssigned"], events.Select(e => e!["messageType"]!.GetValue<string>()));
        // github.com: the request id is 0; the job is its string jobId.
        Assert.All(events, e => Assert.Equal(0, e!["runnerRequestId"]!.GetValue<long>()));
        Assert.Equal(2, first["statistics"]!["totalAssignedJobs"]!.GetValue<int>());
        var firstId = first["messageId"]!.GetValue<long>();
        await SendAsync(HttpMethod.Delete, $"{queue}/{firstId}", queueToken, expected: HttpStatusCode.NoContent);

        // One runner from the scale set's JIT config runs one job: started, then completed.
        var jit = await SendAsync(HttpMethod.Post, $"{actions}_apis/runtime/runnerscalesets/{setId}/generatejitconfig", admin, new { name = "arm-set-runner-1", workFolder = "_work" });
        Assert.Equal(setId, jit["runner"]!["runnerScaleSetId"]!.GetValue<long>());
        await SendAsync(HttpMethod.Post, $"{actions}_apis/runtime/runnerscalesets/{setId}/generatejitconfig", admin, new { name = "arm-set-runner-1" }, HttpStatusCode.Conflict);
        using var runnerHttp = new HttpClient();
        var ran = await new SimulatedRunner(runnerHttp, TimeProvider.System).RunWithJitConfigAsync(jit["encodedJITConfig"]!.GetValue<string>(), TestContext.Current.CancellationToken);
        Assert.NotNull(ran);

        var seen = new List<JsonNode>();
        var lastId = firstId;
        while (!seen.Any(e => e["messageType"]!.GetValue<string>() == "JobCompleted" && e["result"]!.GetValue<string>() == "canceled"))
        {
            // A listener polls on through empty (202) answers; the reassignment comes after the acquire timeout.
            using var poll = new HttpRequestMessage(HttpMethod.Get, $"{queue}?lastMessageId={lastId}");
            poll.Headers.Authorization = new AuthenticationHeaderValue("Bearer", queueToken);
            using var answer = await _http.SendAsync(poll, TestContext.Current.CancellationToken);
            if (answer.StatusCode == HttpStatusCode.Accepted)
            {
                continue;
            }

            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            var next = JsonNode.Parse(await answer.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
            lastId = next["messageId"]!.GetValue<long>();
            seen.AddRange(JsonNode.Parse(next["body"]!.GetValue<string>())!.AsArray().Select(e => e!));
            await SendAsync(HttpMethod.Delete, $"{queue}/{lastId}", queueToken, expected: HttpStatusCode.NoContent);
        }

        Assert.Contains(seen, e => e["messageType"]!.GetValue<string>() == "JobStarted" && e["runnerName"]!.GetValue<string>() == "arm-set-runner-1" && e["jobId"]!.GetValue<string>() == $"sim-{ran.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        Assert.Contains(seen, e => e["messageType"]!.GetValue<string>() == "JobCompleted" && e["result"]!.GetValue<string>() == "succeeded");
        // The other job found no runner in time: cancelled, and assigned again.
        var other = sim.AllJobs().Single(j => j.Id != ran.Value);
        Assert.Equal(2, other.ScaleSetAssignments);
        var otherId = $"sim-{other.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        // Reassigned, it is still the same job: the same jobId in both assignments (and a canceled completion between).
        Assert.Equal(2, events.Select(e => e!).Concat(seen).Count(e => e["messageType"]!.GetValue<string>() == "JobAssigned" && e["jobId"]!.GetValue<string>() == otherId));

        // An expired queue token: 401, then a refreshed session answers again.
        sim.ExpireSessionTokens();
        await SendAsync(HttpMethod.Get, $"{queue}?lastMessageId={lastId}", queueToken, expected: HttpStatusCode.Unauthorized);
        var refreshed = await SendAsync(HttpMethod.Patch, $"{actions}_apis/runtime/runnerscalesets/{setId}/sessions/{session["sessionId"]!.GetValue<string>()}", admin);
        Assert.NotEqual(queueToken, refreshed["messageQueueAccessToken"]!.GetValue<string>());
        await SendAsync(HttpMethod.Get, $"{queue}?lastMessageId={lastId}", refreshed["messageQueueAccessToken"]!.GetValue<string>(), expected: HttpStatusCode.Accepted);

        // The session closes; another owner may open one.
        await SendAsync(HttpMethod.Delete, $"{actions}_apis/runtime/runnerscalesets/{setId}/sessions/{session["sessionId"]!.GetValue<string>()}", admin, expected: HttpStatusCode.NoContent);
        await SendAsync(HttpMethod.Post, $"{actions}_apis/runtime/runnerscalesets/{setId}/sessions", admin, new { ownerName = "controller-b" });
    }

    private static string Pad(string base64Url) => base64Url.Replace('-', '+').Replace('_', '/') + new string('=', (4 - (base64Url.Length % 4)) % 4);

    [Fact]
    public void A_session_whose_listener_went_silent_can_be_taken_over()
    {
        var sim = _server.Simulator;
        var set = sim.CreateScaleSet("octo/app", "quiet-set", 1, [])!;

        Assert.NotNull(sim.OpenSession(set, "first"));
        Assert.Null(sim.OpenSession(set, "second"));
        set.Session!.LastPoll = DateTimeOffset.UtcNow - sim.Options.ScaleSetSessionTimeout - TimeSpan.FromSeconds(1);

        Assert.Equal("second", sim.OpenSession(set, "second")?.Owner);
    }

    [Fact]
    public async Task A_busy_scale_set_runner_cannot_be_removed_and_an_idle_one_can()
    {
        var sim = _server.Simulator;
        var set = sim.CreateScaleSet("octo/app", "x-set", 1, [])!;
        var (_, idle, _) = sim.RegisterScaleSetRunner(set, "idle-1");
        var (token, _) = sim.CreateRegistrationToken();
        var admin = sim.RegisterActionsService(token, "octo/app")!.Value.Token;
        var actions = $"{_server.BaseUrl.ToString().TrimEnd('/')}/_actions/_apis/distributedtask/pools/0/agents";

        var agents = await SendAsync(HttpMethod.Get, $"{actions}?agentName=idle-1", admin);
        Assert.Equal(idle!.Id, agents["value"]![0]!["id"]!.GetValue<long>());
        sim.QueueJobs("octo/app", ["x-set"], 1, TimeSpan.FromSeconds(30));
        var (_, busy, _) = sim.RegisterScaleSetRunner(set, "busy-1");
        _ = await sim.AcquireJobAsync(busy!, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        var refused = await SendAsync(HttpMethod.Delete, $"{actions}/{busy!.Id}", admin, expected: HttpStatusCode.BadRequest);
        Assert.Contains("JobStillRunning", refused["typeName"]!.GetValue<string>(), StringComparison.Ordinal);
        await SendAsync(HttpMethod.Delete, $"{actions}/{idle.Id}", admin, expected: HttpStatusCode.NoContent);
    }
}
