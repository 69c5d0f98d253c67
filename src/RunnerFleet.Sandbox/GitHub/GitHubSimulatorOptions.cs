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

    /// <summary>How long a scale set's message poll is held open before it answers 202 (GitHub: about 50 s).</summary>
    public TimeSpan ScaleSetPollWait { get; set; } = TimeSpan.FromSeconds(50);

    /// <summary>How long an assigned scale-set job waits for a runner before GitHub cancels and reassigns it.</summary>
    public TimeSpan ScaleSetAcquireTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the Actions service's admin token and a session's message-queue token live.</summary>
    public TimeSpan ScaleSetTokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Which GitHub the simulator plays: github.com (default) or GitHub Enterprise Server; they differ in the scale-set protocol.</summary>
    public GitHubFlavor Flavor { get; set; } = GitHubFlavor.GitHubCom;

    /// <summary>A session whose listener has not polled for this long is ended: another listener may open one.</summary>
    public TimeSpan ScaleSetSessionTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Latency added before each answer of the REST API, the Actions service and the runner protocol (not the
    /// sandbox's control API): the benchmarks measure with GitHub's round trips, not loopback's. None when null.
    /// </summary>
    public GitHubLatency? Latency { get; set; }
}

/// <summary>The GitHub a simulator plays.</summary>
public enum GitHubFlavor
{
    /// <summary>
    /// github.com: scale-set job messages carry <c>runnerRequestId: 0</c> and identify jobs by the string
    /// <c>jobId</c> (garm PR #459, actions-runner-controller PR #4239); jobs are assigned without acquisition.
    /// </summary>
    GitHubCom,

    /// <summary>
    /// GitHub Enterprise Server (3.19): jobs first come as <c>JobAvailable</c> with a real runner request id and
    /// stay available until the listener acquires them (actions/scaleset issue #75, PR #90; ARC PR #4447).
    /// </summary>
    EnterpriseServer,
}
