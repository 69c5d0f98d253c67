using System.Diagnostics;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.Bench;

/// <summary>How jobs arrive in the streaming benchmarks: a Poisson process, and a public/private repository mix.</summary>
internal static class Arrivals
{
    /// <summary>
    /// Calls <paramref name="arrive"/> (with the arrival's index) at the times of a Poisson process of
    /// <paramref name="perHour"/> arrivals an hour (exponential gaps of mean 3600 / rate seconds, seeded), for
    /// <paramref name="window"/>; returns how many arrived.
    /// </summary>
    public static async Task<int> PoissonAsync(int perHour, TimeSpan window, int seed, Action<int> arrive)
    {
        var random = new Random(seed);
        var start = Stopwatch.GetTimestamp();
        var next = TimeSpan.Zero;
        var count = 0;
        while (next < window)
        {
            var wait = next - Stopwatch.GetElapsedTime(start);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait).ConfigureAwait(false);
            }

            arrive(count++);
            next += TimeSpan.FromSeconds(-Math.Log(1.0 - random.NextDouble()) * 3600.0 / perHour);
        }

        return count;
    }

    /// <summary>The mix's two repositories: a public one and a private one.</summary>
    public static readonly string[] Repositories = ["bench/public-app", "bench/private-app"];

    /// <summary>
    /// Queues the <paramref name="index"/>-th job of the mix: every other one in the public repository as a pull request
    /// from a branch of it (so the fork policy looks at it), the others pushes to the private one.
    /// </summary>
    public static SimJob QueueMixed(GitHubSimulator github, int index, IReadOnlyList<string> labels, TimeSpan duration)
    {
        var isPublic = index % 2 == 0;
        var repo = Repositories[isPublic ? 0 : 1];
        return github.QueueJobs(repo, labels, 1, duration, @event: isPublic ? "pull_request" : "push", headRepository: isPublic ? repo : null).Jobs[0];
    }
}
