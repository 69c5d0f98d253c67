namespace RunnerFleet.Sandbox.GitHub;

/// <summary>Settings of the GitHub simulator.</summary>
public sealed class GitHubSimulatorOptions
{
    /// <summary>Personal access tokens the simulator accepts.</summary>
    public List<string> Tokens { get; } = ["sandbox-token"];

    /// <summary>Primary rate limit per token and hour, as GitHub's 5,000.</summary>
    public int RateLimitPerHour { get; set; } = 5000;

    /// <summary>
    /// The base URL runners use to reach the simulator (written into JIT configs). Runners in containers
    /// cannot reach the host's loopback, so tests set this to an address on their own bridge network.
    /// </summary>
    public string? RunnerBaseUrl { get; set; }

    /// <summary>A runner that has not polled for this long is reported offline.</summary>
    public TimeSpan OfflineAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a runner's job request is held open when no job is there (long poll).</summary>
    public TimeSpan AcquireWait { get; set; } = TimeSpan.FromSeconds(10);
}
