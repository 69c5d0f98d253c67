using System.Net;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;
using RunnerFleet.Sandbox.Runner;

namespace RunnerFleet.Controller.Tests.GitHub;

/// <summary>The controller's Actions service client against the simulator's scale-set protocol, over HTTP.</summary>
[Trait("Category", "ScaleSet")]
public sealed class ActionsServiceClientTests : IAsyncLifetime
{
    private static readonly string[] s_set = ["arm64-set"];
    private SandboxServer _server = null!;
    private readonly HttpClient _http = new();

    public async ValueTask InitializeAsync()
    {
        _server = await SandboxServer.StartAsync(["http://127.0.0.1:0"], new GitHubSimulatorOptions { ScaleSetPollWait = TimeSpan.FromMilliseconds(300) }, TimeProvider.System, ct: TestContext.Current.CancellationToken);
        _server.Simulator.EnsureRepository("octo/app");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private ActionsServiceClient Client()
    {
        var options = new GitHubOptions { ApiUrl = _server.BaseUrl, WebUrl = _server.BaseUrl, Token = "sandbox-token", Repositories = ["octo/app"] };
        return new ActionsServiceClient(_http, TestServices.GitHubClient(options), Options.Create(options), TimeProvider.System);
    }

    [Fact]
    public async Task A_listener_finds_or_makes_its_scale_set_holds_the_one_session_and_reads_job_events()
    {
        var ct = TestContext.Current.CancellationToken;
        var client = Client();
        var group = await client.RunnerGroupIdAsync("octo/app", "Default", ct);
        var set = await client.GetOrCreateScaleSetAsync("octo/app", "arm64-set", group, ["arm64-set"], ct);
        Assert.Equal(set.Id, (await client.GetOrCreateScaleSetAsync("octo/app", "arm64-set", group, ["arm64-set"], ct)).Id);

        var session = await client.OpenSessionAsync("octo/app", set.Id, "controller-a", ct);
        var conflict = await Assert.ThrowsAsync<ActionsServiceException>(() => Client().OpenSessionAsync("octo/app", set.Id, "controller-b", ct));
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);

        Assert.Equal(ScaleSetPollOutcome.Empty, (await client.PollAsync(session, 0, 10, ct)).Outcome);
        _server.Simulator.QueueJobs("octo/app", s_set, 3, TimeSpan.FromMilliseconds(100));
        var (outcome, message) = await client.PollAsync(session, 0, 10, ct);
        Assert.Equal(ScaleSetPollOutcome.Message, outcome);
        Assert.Equal(3, message!.Statistics!.TotalAssignedJobs);
        Assert.All(ActionsServiceClient.Events(message), e => Assert.Equal("JobAssigned", e.MessageType));
        await client.AcknowledgeAsync(session, message.MessageId, ct);

        // A scale-set runner from the client's JIT config takes a job; the listener hears it start and end.
        var jit = await client.GenerateJitConfigAsync("octo/app", set.Id, "arm64-set-1", ct);
        Assert.Equal(set.Id, jit.Runner.RunnerScaleSetId);
        using var runnerHttp = new HttpClient();
        await new SimulatedRunner(runnerHttp, TimeProvider.System).RunWithJitConfigAsync(jit.EncodedJitConfig, ct);
        var events = new List<ScaleSetJobEvent>();
        var last = message.MessageId;
        while (!events.Any(e => e.MessageType == "JobCompleted"))
        {
            var (o, m) = await client.PollAsync(session, last, 10, ct);
            if (o == ScaleSetPollOutcome.Message)
            {
                events.AddRange(ActionsServiceClient.Events(m!));
                last = m!.MessageId;
                await client.AcknowledgeAsync(session, last, ct);
            }
        }

        Assert.Contains(events, e => e.MessageType == "JobStarted" && e.RunnerName == "arm64-set-1");
        Assert.Contains(events, e => e.MessageType == "JobCompleted" && e.Result == "succeeded" && e.RunnerId == jit.Runner.Id);

        // An expired queue token: 401, then the refreshed session polls again.
        _server.Simulator.ExpireSessionTokens();
        Assert.Equal(ScaleSetPollOutcome.TokenExpired, (await client.PollAsync(session, last, 10, ct)).Outcome);
        session = await client.RefreshSessionAsync("octo/app", set.Id, session.SessionId, ct);
        Assert.NotEqual(ScaleSetPollOutcome.TokenExpired, (await client.PollAsync(session, last, 10, ct)).Outcome);

        Assert.True(await client.RemoveRunnerAsync("octo/app", jit.Runner.Id, ct));
        await client.CloseSessionAsync("octo/app", set.Id, session.SessionId, ct);
        Assert.NotNull(await Client().OpenSessionAsync("octo/app", set.Id, "controller-b", ct));
    }

    [Fact]
    public async Task A_runner_running_a_job_is_not_removed()
    {
        var ct = TestContext.Current.CancellationToken;
        var client = Client();
        var set = await client.GetOrCreateScaleSetAsync("octo/app", "busy-set", 1, [], ct);
        _server.Simulator.QueueJobs("octo/app", ["busy-set"], 1, TimeSpan.FromMinutes(1));
        var jit = await client.GenerateJitConfigAsync("octo/app", set.Id, "busy-1", ct);
        var runner = _server.Simulator.AllRunners().Single(r => r.Id == jit.Runner.Id);
        Assert.NotNull(await _server.Simulator.AcquireJobAsync(runner, TimeSpan.FromSeconds(5), ct));

        Assert.False(await client.RemoveRunnerAsync("octo/app", jit.Runner.Id, ct));
    }

    [Theory]
    [InlineData("a.eyJleHAiOjE4MDAwMDAwMDB9.c", 1_800_000_000L)]
    [InlineData("opaque-token", null)]
    [InlineData("a.!!!.c", null)]
    public void The_admin_tokens_expiry_is_read_from_its_jwt(string token, long? exp) =>
        Assert.Equal(exp is { } e ? DateTimeOffset.FromUnixTimeSeconds(e) : null, ActionsServiceClient.Expiry(token));
}
