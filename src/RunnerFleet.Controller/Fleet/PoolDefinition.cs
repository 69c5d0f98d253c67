namespace RunnerFleet.Controller.Fleet;

/// <summary>A validated pool: which jobs it serves, where its runners run, and its limits.</summary>
public sealed record PoolDefinition
{
    public required string Name { get; init; }

    /// <summary>The pool's labels; <c>self-hosted</c> is always among them.</summary>
    public required IReadOnlyList<string> Labels { get; init; }

    /// <summary>Provider kind: "docker", "hetzner", or "inprocess" (sandbox).</summary>
    public required string Provider { get; init; }

    public int MinIdle { get; init; }

    public int MaxRunners { get; init; } = 10;

    /// <summary>The pool that takes demand this one cannot place.</summary>
    public string? Overflow { get; init; }

    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan MaxJobDuration { get; init; } = TimeSpan.FromHours(6);

    public long RunnerGroupId { get; init; } = 1;

    public RegistrationMode Registration { get; init; } = RegistrationMode.Jit;

    /// <summary>Where min-idle runners register: "owner/repo" or an organization. Jobs bring their own scope.</summary>
    public string? DefaultScope { get; init; }

    /// <summary>Money this pool may spend per UTC day (EUR, Hetzner servers); no new servers once reached. None when null.</summary>
    public decimal? DailyBudget { get; init; }

    /// <summary>Whether jobs of fork pull requests in public repositories get runners (default: refused).</summary>
    public bool AllowForkPullRequests { get; init; }

    /// <summary>How the pool learns of its jobs: REST polling and webhooks, or a runner scale set's message queue.</summary>
    public JobDiscovery Discovery { get; init; } = JobDiscovery.Jobs;

    /// <summary>With <see cref="JobDiscovery.ScaleSet"/>: the scale set's name, which is the <c>runs-on</c> label its jobs use.</summary>
    public string ScaleSetName { get; init; } = string.Empty;

    /// <summary>With <see cref="JobDiscovery.ScaleSet"/>: the runner group the scale set lives in.</summary>
    public string ScaleSetRunnerGroup { get; init; } = "Default";

    /// <summary>Whether this pool's runners cost money (its provider bills by the hour).</summary>
    public bool IsPaid => Provider == "hetzner";

    public DockerPoolSettings Docker { get; init; } = new();

    public HetznerPoolSettings Hetzner { get; init; } = new();
}

/// <summary>How a pool learns of the jobs it serves.</summary>
public enum JobDiscovery
{
    /// <summary>Workflow jobs from REST polling and <c>workflow_job</c> webhooks, matched to pools by labels.</summary>
    Jobs,

    /// <summary>A runner scale set: GitHub assigns the jobs whose <c>runs-on</c> is its name, and tells the listener.</summary>
    ScaleSet,
}
