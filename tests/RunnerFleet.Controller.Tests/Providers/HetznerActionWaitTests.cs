using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RunnerFleet.Controller.Providers.Hetzner;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.Controller.Tests.Providers;

/// <summary>Waiting for Hetzner actions spends the project's 3,600 requests an hour sparingly.</summary>
[Trait("Category", "Hetzner")]
public sealed class HetznerActionWaitTests
{
    [Fact]
    public async Task Concurrent_waits_for_three_creates_share_one_request_a_round()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var server = await SandboxServer.StartAsync(["http://127.0.0.1:0"], new GitHubSimulatorOptions(), new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(20) }, time, null, ct);
        var sim = server.Hetzner!;
        var labels = new Dictionary<string, string> { ["runnerfleet.fleet"] = "f" };
        var actions = Enumerable.Range(0, 3).Select(i => sim.CreateServer($"f-cax-{i}", "cax21", "161547270", "fsn1", labels, null, true, []).Action!.Id).ToList();
        using var http = new HttpClient();
        var client = new HetznerClient(http, Options.Create(new HetznerOptions { ApiUrl = server.HetznerApiUrl, Token = "sandbox-hcloud-token" }),
            TestServices.Telemetry(), time, NullLogger<HetznerClient>.Instance, new HetznerActionWatch());
        var before = sim.RequestsServed;

        var waits = actions.Select(id => client.WaitForActionsAsync([id], ct)).ToList();
        // Drive the clock in small steps; the waits poll at 2, 5, 9.5, 16.25 and 26.4 s (2 s, then ×1.5).
        for (var step = 0; step < 400 && !waits.All(w => w.IsCompleted); step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(20, ct);
        }

        var done = await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.All(done, d => Assert.True(d.Single().IsDone));
        // One wait alone makes about 5 requests (fewer when the fake clock runs ahead of a poll); three that did not share would make 15.
        var requests = sim.RequestsServed - before;
        Assert.InRange(requests, 1, 7);
    }

    [Fact]
    public async Task A_failed_shared_poll_fails_none_of_the_creates_that_joined_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var server = await SandboxServer.StartAsync(["http://127.0.0.1:0"], new GitHubSimulatorOptions(), new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(6) }, time, null, ct);
        var sim = server.Hetzner!;
        var labels = new Dictionary<string, string> { ["runnerfleet.fleet"] = "f" };
        var actions = Enumerable.Range(0, 3).Select(i => sim.CreateServer($"f-cax-{i}", "cax21", "161547270", "fsn1", labels, null, true, []).Action!.Id).ToList();
        using var http = new HttpClient();
        var client = new HetznerClient(http, Options.Create(new HetznerOptions { ApiUrl = server.HetznerApiUrl, Token = "sandbox-hcloud-token" }),
            TestServices.Telemetry(), time, NullLogger<HetznerClient>.Instance, new HetznerActionWatch());
        // The first round's request fails with an error the client does not retry.
        sim.AddFault(new SimHetznerFault { PathPrefix = "/actions", Method = "GET", Code = "invalid_input", Count = 1 });

        var waits = actions.Select(id => client.WaitForActionsAsync([id], ct)).ToList();
        for (var step = 0; step < 400 && !waits.All(w => w.IsCompleted); step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(20, ct);
        }

        var done = await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.All(done, d => Assert.True(d.Single().IsDone));
    }
}
