using System.Net.Http.Headers;
using Microsoft.Extensions.Time.Testing;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.Controller.Tests.GitHub;

/// <summary>The GitHub round trips the benchmarks inject: the distribution they draw from, and where they apply.</summary>
public sealed class SimulatedLatencyTests
{
    [Fact]
    public void The_latency_distribution_has_the_median_and_99th_percentile_it_was_given()
    {
        var latency = new SimLatency(TimeSpan.FromMilliseconds(120), TimeSpan.FromMilliseconds(600));
        var random = new Random(42);
        var samples = Enumerable.Range(0, 50_000).Select(_ => latency.Sample(random).TotalMilliseconds).Order().ToArray();

        Assert.InRange(samples[samples.Length / 2], 114, 126);
        Assert.InRange(samples[(int)(samples.Length * 0.99)], 560, 640);
        Assert.True(samples[0] > 0);
    }

    [Fact]
    public async Task A_read_is_answered_only_once_its_round_trip_has_passed_and_a_write_draws_from_its_own_distribution()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var options = new GitHubSimulatorOptions { Latency = new GitHubLatency { Reads = new SimLatency(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300)) } };
        await using var server = await SandboxServer.StartAsync(["http://127.0.0.1:0"], options, time, ct: TestContext.Current.CancellationToken);
        server.Simulator.EnsureRepository("octo/app");
        using var http = new HttpClient { BaseAddress = server.BaseUrl };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("runnerfleet-tests");
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sandbox-token");

        // A write (no write latency configured) is answered on the spot, with the clock standing still.
        using var write = await http.PostAsync(new Uri("/repos/octo/app/actions/runners/registration-token", UriKind.Relative), null, TestContext.Current.CancellationToken);
        Assert.True(write.IsSuccessStatusCode, write.StatusCode.ToString());
        Assert.Equal(1, server.Simulator.WriteRequests);

        // A read waits for its 300 ms on the simulator's clock.
        var read = http.GetAsync(new Uri("/repos/octo/app/actions/runners", UriKind.Relative), TestContext.Current.CancellationToken);
        await Task.WhenAny(read, Task.Delay(TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken));
        Assert.False(read.IsCompleted, "the read was answered before its round trip passed");
        time.Advance(TimeSpan.FromMilliseconds(300));
        using var answer = await read.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.True(answer.IsSuccessStatusCode, answer.StatusCode.ToString());
    }
}
