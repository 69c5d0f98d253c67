using System.Net;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RunnerFleet.Controller.Channels.Rest;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.Controller.Tests.GitHub;

/// <summary>
/// GitHub as it really answers (issue 13): secondary limits, permission errors, non-idempotent retries, GHE.com.
/// Each of these failed before the fix.
/// </summary>
public sealed class GitHubFidelityTests : GitHubSimulatorFixture
{
    private GitHubOptions Options() => new() { ApiUrl = Server.BaseUrl, Token = "sandbox-token", Repositories = ["octo/app"] };

    [Fact]
    public async Task A_secondary_limit_with_remaining_budget_and_no_retry_after_waits_a_minute_without_holding_the_write_lock()
    {
        // GitHub's secondary limit: 403, x-ratelimit-remaining above 0, no retry-after. Before: taken for a permission error.
        Sim.AddFault(new SimFault { PathPrefix = "/repos/octo/app/actions/runners/registration-token", Status = 403 });
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var client = TestServices.GitHubClient(Options(), time);

        var limited = client.CreateRegistrationTokenAsync("octo/app", TestContext.Current.CancellationToken);
        // Another write goes through while the first waits out its minute: the lock is not held across the wait.
        var other = Sim.QueueJobs("octo/app", ["self-hosted"], 1, TimeSpan.Zero);
        await WaitUntilAsync(() => Task.FromResult(Sim.FaultsServed >= 1));
        Assert.True(await client.CancelRunAsync("octo/app", other.Id, TestContext.Current.CancellationToken));
        Assert.False(limited.IsCompleted);

        // Fake time, a second at a time, until the wait is over: it must take a minute of it (the client may start
        // waiting a little after the fault was served, on a busy machine; advancing in steps catches it whenever).
        // The retry is seen by the simulator as a new request; time stops moving then.
        var requests = Sim.ApiRequests;
        var advanced = TimeSpan.Zero;
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (Sim.ApiRequests == requests && !limited.IsCompleted)
        {
            patience.Token.ThrowIfCancellationRequested();
            time.Advance(TimeSpan.FromSeconds(1));
            advanced += TimeSpan.FromSeconds(1);
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.InRange(advanced.TotalSeconds, 60, 90);
        Assert.False(string.IsNullOrEmpty((await limited.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken)).Token));
    }

    [Fact]
    public async Task A_403_that_is_no_limit_fails_fast_and_is_not_retried()
    {
        // A permission error (a token without the scope): no limit sign in message or headers. Before: waited minutes when headers were missing.
        var headers = new HttpResponseMessage(HttpStatusCode.Forbidden).Headers;
        Assert.Null(GitHubApiClient.RateLimitWait(headers, 403, """{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}""", 1, DateTimeOffset.UtcNow));
        Assert.Equal(TimeSpan.FromMinutes(1), GitHubApiClient.RateLimitWait(headers, 403,
            """{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}""", 1, DateTimeOffset.UtcNow));
        Assert.Equal(TimeSpan.FromMinutes(2), GitHubApiClient.RateLimitWait(headers, 429, "{}", 2, DateTimeOffset.UtcNow));
        var primary = new HttpResponseMessage(HttpStatusCode.Forbidden).Headers;
        primary.Add("x-ratelimit-remaining", "0");
        primary.Add("x-ratelimit-reset", DateTimeOffset.UtcNow.AddSeconds(90).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.InRange(GitHubApiClient.RateLimitWait(primary, 403, "{}", 1, DateTimeOffset.UtcNow)!.Value.TotalSeconds, 80, 91);
    }

    [Fact]
    public async Task A_jit_config_retried_after_a_lost_answer_removes_the_runner_its_first_attempt_made_and_registers_again()
    {
        // The first generate-jitconfig is carried out but its answer is lost (502): the client's retry meets 409.
        // Before: the provision failed and the first runner stayed registered, never started.
        Sim.AddFault(new SimFault { PathPrefix = "/repos/octo/app/actions/runners/generate-jitconfig", Status = 502, AfterWork = true });
        var options = Options();
        var client = TestServices.GitHubClient(options);
        var channel = new RestChannel(client, new RunnerReleases(client, Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<RunnerReleases>.Instance), Microsoft.Extensions.Options.Options.Create(options));
        var pool = new PoolDefinition { Name = "linux", Labels = ["self-hosted", "linux"], Provider = "docker", Channel = RestChannel.KindName };
        var runner = new RunnerRecord { Id = "r1", Name = "fleet-linux-0123456789ab", Pool = "linux", Provider = "docker", Scope = "octo/app", State = RunnerState.Requested, RequestedAt = DateTimeOffset.UtcNow };

        var registration = await channel.RegisterAsync(runner, pool, TestContext.Current.CancellationToken);

        var registered = Assert.Single(Sim.Runners("octo/app"));
        Assert.Equal(runner.Name, registered.Name);
        Assert.Equal(registered.Id, registration.GitHubRunnerId);
        Assert.NotNull(registration.JitConfig);
    }

    [Theory]
    [InlineData("https://api.octocorp.ghe.com", "https://octocorp.ghe.com/")]
    [InlineData("https://api.github.com", "https://github.com/")]
    public void The_web_url_of_ghe_com_drops_the_api_prefix(string api, string web) =>
        Assert.Equal(new Uri(web), new GitHubOptions { ApiUrl = new Uri(api) }.EffectiveWebUrl);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }
}
