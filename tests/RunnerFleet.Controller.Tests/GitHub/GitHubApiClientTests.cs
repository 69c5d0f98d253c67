using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.Controller.Tests.GitHub;

/// <summary>The controller's GitHub client against the simulator, over real HTTP on loopback.</summary>
public sealed class GitHubApiClientTests : GitHubSimulatorFixture
{
    private GitHubApiClient Client(string token = "sandbox-token", GitHubAppOptions? app = null, TimeProvider? time = null, RunnerFleet.Controller.Telemetry.FleetTelemetry? telemetry = null) =>
        TestServices.GitHubClient(new GitHubOptions { ApiUrl = Server.BaseUrl, Token = app is null ? token : null, App = app ?? new(), Repositories = ["octo/app"] }, time, telemetry);

    [Fact]
    public async Task An_unchanged_poll_is_answered_304_and_costs_no_rate_limit()
    {
        Sim.QueueJobs("octo/app", ["self-hosted"], 2, TimeSpan.Zero);
        var client = Client();

        var first = await client.ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken);
        var charged = Sim.RateLimitedRequests;
        var second = await client.ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken);

        Assert.Single(first);
        Assert.Equal(first, second);
        Assert.Equal(charged, Sim.RateLimitedRequests);
        Assert.Equal(1, Sim.NotModifiedResponses);
    }

    /// <summary>The current runner release per architecture, and the archive it names hashes to the listed SHA-256.</summary>
    [Fact]
    [Trait("Category", "Hetzner")]
    public async Task The_runner_release_is_read_from_githubs_downloads_list_with_its_checksum()
    {
        var releases = new RunnerReleases(Client(), Microsoft.Extensions.Options.Options.Create(new GitHubOptions { ApiUrl = Server.BaseUrl }), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<RunnerReleases>.Instance);

        var packages = await releases.LinuxAsync("octo/app", TestContext.Current.CancellationToken);
        var charged = Sim.RateLimitedRequests;
        Assert.Same(packages, await releases.LinuxAsync("octo/app", TestContext.Current.CancellationToken));

        Assert.Equal(charged, Sim.RateLimitedRequests);
        Assert.Equal(["arm64", "x64"], packages.Select(p => p.Architecture).Order());
        Assert.All(packages, p => Assert.Equal((SimRunnerRelease.Version, SimRunnerRelease.Sha256), (p.Version, p.Sha256)));
        using var http = new HttpClient();
        var archive = await http.GetByteArrayAsync(packages[0].DownloadUrl, TestContext.Current.CancellationToken);
        Assert.Equal(packages[0].Sha256, Convert.ToHexStringLower(SHA256.HashData(archive)));
    }

    [Fact]
    public async Task A_change_is_seen_on_the_next_poll()
    {
        var client = Client();
        var run = Sim.QueueJobs("octo/app", ["self-hosted"], 1, TimeSpan.Zero);
        Assert.Equal("queued", Assert.Single(await client.ListJobsAsync("octo/app", run.Id, TestContext.Current.CancellationToken)).Status);

        var runner = Sim.RegisterJitRunner("octo/app", "r1", 1, ["self-hosted"]).Runner!;
        await Sim.AcquireJobAsync(runner, TimeSpan.Zero, TestContext.Current.CancellationToken);

        var job = Assert.Single(await client.ListJobsAsync("octo/app", run.Id, TestContext.Current.CancellationToken));
        Assert.Equal("in_progress", job.Status);
        Assert.Equal("r1", job.RunnerName);
    }

    [Fact]
    public async Task Follows_pagination_links()
    {
        for (var i = 0; i < 130; i++)
        {
            Sim.QueueJobs("octo/app", ["self-hosted"], 1, TimeSpan.Zero);
        }

        var runs = await Client().ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken);

        Assert.Equal(130, runs.Count);
        Assert.Equal(130, runs.Select(r => r.Id).Distinct().Count());
    }

    [Fact]
    public async Task Retries_server_errors()
    {
        Sim.AddFault(new SimFault { PathPrefix = "/repos/octo/app/actions/runs", Status = 502, Count = 2 });

        Assert.Empty(await Client().ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Waits_as_retry_after_asks_on_a_secondary_rate_limit()
    {
        Sim.AddFault(new SimFault { PathPrefix = "/repos/octo/app/actions/runners/registration-token", Status = 429, Count = 1, RetryAfterSeconds = 0 });

        var token = await Client().CreateRegistrationTokenAsync("octo/app", TestContext.Current.CancellationToken);

        Assert.False(string.IsNullOrEmpty(token.Token));
    }

    [Fact]
    public async Task Gives_up_clearly_when_the_primary_limit_resets_too_far_ahead()
    {
        Sim.AddFault(new SimFault { PathPrefix = "/repos", Status = 403, ExhaustRateLimit = true });
        var telemetry = TestServices.Telemetry();

        var e = await Assert.ThrowsAsync<GitHubApiException>(() => Client(telemetry: telemetry).ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.Forbidden, e.Status);
        Assert.Contains("rate limited", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, telemetry.RateLimitRemainingOf("core"));
    }

    [Fact]
    public async Task Reports_the_rate_limit_left()
    {
        var telemetry = TestServices.Telemetry();
        await Client(telemetry: telemetry).ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken);

        Assert.Equal(4999, telemetry.RateLimitRemainingOf("core"));
    }

    [Fact]
    public async Task A_bad_token_is_an_error_not_a_retry()
    {
        var e = await Assert.ThrowsAsync<GitHubApiException>(() => Client("wrong").ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.Unauthorized, e.Status);
        Assert.DoesNotContain("wrong", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Generates_a_jit_config_and_refuses_a_duplicate_name()
    {
        var client = Client();
        var jit = await client.GenerateJitConfigAsync("octo/app", new JitConfigRequest("fleet-a-1", 1, ["self-hosted", "linux"], "_work"), TestContext.Current.CancellationToken);

        Assert.Equal("fleet-a-1", jit.Runner.Name);
        Assert.False(string.IsNullOrEmpty(jit.EncodedJitConfig));
        var dup = await Assert.ThrowsAsync<GitHubApiException>(() => client.GenerateJitConfigAsync("octo/app", new JitConfigRequest("fleet-a-1", 1, ["self-hosted"], "_work"), TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.Conflict, dup.Status);
        var bad = await Assert.ThrowsAsync<GitHubApiException>(() => client.GenerateJitConfigAsync("octo/app", new JitConfigRequest("fleet-a-2", 1, [], "_work"), TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.Status);
    }

    [Fact]
    public async Task Never_deletes_a_busy_runner_and_treats_gone_as_deleted()
    {
        var client = Client();
        Sim.QueueJobs("octo/app", ["self-hosted"], 1, TimeSpan.FromMinutes(5));
        var busy = Sim.RegisterJitRunner("octo/app", "busy-1", 1, ["self-hosted"]).Runner!;
        await Sim.AcquireJobAsync(busy, TimeSpan.Zero, TestContext.Current.CancellationToken);
        var idle = Sim.RegisterJitRunner("octo/app", "idle-1", 1, ["self-hosted"]).Runner!;

        Assert.False(await client.DeleteRunnerAsync("octo/app", busy.Id, TestContext.Current.CancellationToken));
        Assert.True(await client.DeleteRunnerAsync("octo/app", idle.Id, TestContext.Current.CancellationToken));
        Assert.True(await client.DeleteRunnerAsync("octo/app", idle.Id, TestContext.Current.CancellationToken));
        Assert.Equal(["busy-1"], Sim.AllRunners().Select(r => r.Name));
    }

    [Fact]
    public async Task Authenticates_as_a_github_app_and_refreshes_the_installation_token_before_it_expires()
    {
        using var key = RSA.Create(2048);
        var keyPath = Path.Combine(Path.GetTempPath(), $"rf-app-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(keyPath, key.ExportRSAPrivateKeyPem(), TestContext.Current.CancellationToken);
        try
        {
            var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
            await using var server = await SandboxServer.StartAsync(["http://127.0.0.1:0"], new GitHubSimulatorOptions(), time, ct: TestContext.Current.CancellationToken);
            server.Simulator.EnsureRepository("octo/app");
            server.Simulator.RegisterApp(42, 7, key.ExportSubjectPublicKeyInfoPem());
            var client = TestServices.GitHubClient(new GitHubOptions { ApiUrl = server.BaseUrl, App = new GitHubAppOptions { Id = "42", InstallationId = 7, PrivateKeyPath = keyPath }, Repositories = ["octo/app"] }, time);

            await client.ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken);
            await client.ListRunsAsync("octo/app", "in_progress", TestContext.Current.CancellationToken);
            Assert.Equal(1, server.Simulator.InstallationTokensIssued);

            time.Advance(TimeSpan.FromMinutes(56));
            await client.ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken);
            Assert.Equal(2, server.Simulator.InstallationTokensIssued);
        }
        finally
        {
            File.Delete(keyPath);
        }
    }

    [Fact]
    public async Task An_app_with_an_unknown_key_is_refused()
    {
        using var key = RSA.Create(2048);
        using var other = RSA.Create(2048);
        var keyPath = Path.Combine(Path.GetTempPath(), $"rf-app-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(keyPath, key.ExportRSAPrivateKeyPem(), TestContext.Current.CancellationToken);
        try
        {
            Sim.RegisterApp(43, 8, other.ExportSubjectPublicKeyInfoPem());
            var client = Client(app: new GitHubAppOptions { Id = "43", InstallationId = 8, PrivateKeyPath = keyPath });

            var e = await Assert.ThrowsAsync<GitHubApiException>(() => client.ListRunsAsync("octo/app", "queued", TestContext.Current.CancellationToken));
            Assert.Equal(HttpStatusCode.Unauthorized, e.Status);
        }
        finally
        {
            File.Delete(keyPath);
        }
    }
}
