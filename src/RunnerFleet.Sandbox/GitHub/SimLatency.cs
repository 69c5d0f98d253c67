using Microsoft.AspNetCore.Http;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>
/// A response time distribution, log-normal, fixed by its median and 99th percentile (service latencies are
/// right-skewed; a log-normal is the usual fit). GitHub publishes no latency figures: the benchmark's defaults
/// (<see cref="GitHubLatency.Typical"/>) are a stated assumption, not a measurement of GitHub, and every report that
/// uses them records them.
/// </summary>
public sealed record SimLatency(TimeSpan P50, TimeSpan P99)
{
    // The standard normal's 99th percentile: P99 = P50 · e^(σ · 2.3263).
    private const double Z99 = 2.3263478740408408;

    public TimeSpan Sample(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (P50 <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var sigma = P99 > P50 ? Math.Log(P99 / P50) / Z99 : 0;
        // Box–Muller: one standard normal from two uniforms in (0, 1].
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        var z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        return P50 * Math.Exp(sigma * z);
    }

    public override string ToString() => $"p50 {P50.TotalMilliseconds:F0} ms / p99 {P99.TotalMilliseconds:F0} ms";
}

/// <summary>
/// Latency the simulator adds before it answers, per kind of call: reads (GET, HEAD) and writes (everything else)
/// of the REST API and the Actions service, and the runner's own protocol (its broker). None by default.
/// </summary>
public sealed class GitHubLatency
{
    /// <summary>An assumption for benchmarks: REST reads p50 60 / p99 300 ms, writes p50 120 / p99 600 ms.</summary>
    public static GitHubLatency Typical(int seed = 1) => new()
    {
        Reads = new SimLatency(TimeSpan.FromMilliseconds(60), TimeSpan.FromMilliseconds(300)),
        Writes = new SimLatency(TimeSpan.FromMilliseconds(120), TimeSpan.FromMilliseconds(600)),
        Seed = seed,
    };

    public SimLatency? Reads { get; init; }

    public SimLatency? Writes { get; init; }

    /// <summary>The random stream's seed, so two runs draw the same delays.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The latency a request of this method waits, drawn from the matching distribution.</summary>
    public TimeSpan Draw(string method, Random random) =>
        (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) ? Reads : Writes)?.Sample(random) ?? TimeSpan.Zero;

}
