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

    [Fact]
    public async Task A_wait_told_when_creates_are_usually_done_polls_first_then_and_once_more_if_needed()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var server = await SandboxServer.StartAsync(["http://127.0.0.1:0"], new GitHubSimulatorOptions(), new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(20) }, time, null, ct);
        var sim = server.Hetzner!;
        var labels = new Dictionary<string, string> { ["runnerfleet.fleet"] = "f" };
        var action = sim.CreateServer("f-cax-0", "cax21", "161547270", "fsn1", labels, null, true, []).Action!.Id;
        using var http = new HttpClient();
        var client = new HetznerClient(http, Options.Create(new HetznerOptions { ApiUrl = server.HetznerApiUrl, Token = "sandbox-hcloud-token" }),
            TestServices.Telemetry(), time, NullLogger<HetznerClient>.Instance, new HetznerActionWatch());
        var before = sim.RequestsServed;

        // Told 19 s: nothing is asked before then; the action is not done at 19 s, so once more 2 s later.
        var wait = client.WaitForActionsAsync([action], ct, TimeSpan.FromSeconds(19));
        for (var step = 0; step < 75; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(10, ct);
        }

        Assert.Equal(before, sim.RequestsServed);
        // At 19 s the poll goes out (the clock holds still until it is answered: the action is still running).
        time.Advance(TimeSpan.FromMilliseconds(250));
        for (var tries = 0; tries < 500 && sim.RequestsServed == before; tries++)
        {
            await Task.Delay(20, ct);
        }

        Assert.Equal(before + 1, sim.RequestsServed);
        await Task.Delay(100, ct);
        for (var step = 0; step < 200 && !wait.IsCompleted; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(20, ct);
        }

        Assert.True((await wait.WaitAsync(TimeSpan.FromSeconds(60), ct)).Single().IsDone);
        Assert.Equal(2, sim.RequestsServed - before);
    }

    [Fact]
    public void The_first_poll_comes_at_the_median_of_recent_creates_within_one_and_thirty_intervals()
    {
        var interval = TimeSpan.FromSeconds(2);
        var durations = new HetznerProvider.CreateDurations();
        Assert.Equal(TimeSpan.FromSeconds(10), durations.Typical(interval));

        foreach (var s in new[] { 12, 30, 14, 13, 90 })
        {
            durations.Add(TimeSpan.FromSeconds(s));
        }

        Assert.Equal(TimeSpan.FromSeconds(14), durations.Typical(interval));
        // Only the last 15 count: a run of fast creates replaces the slow ones.
        for (var i = 0; i < 15; i++)
        {
            durations.Add(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(interval, durations.Typical(interval));
        for (var i = 0; i < 15; i++)
        {
            durations.Add(TimeSpan.FromMinutes(5));
        }

        Assert.Equal(interval * 30, durations.Typical(interval));
    }
}
