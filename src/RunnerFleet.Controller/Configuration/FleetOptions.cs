using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Configuration;

/// <summary>The <c>Fleet</c> configuration section.</summary>
internal sealed class FleetOptions
{
    public const string Section = "Fleet";

    /// <summary>Names this fleet's runners and labels its resources; two fleets on one account must differ.</summary>
    public string Name { get; set; } = "runnerfleet";

    public List<PoolOptions> Pools { get; set; } = [];

    public TimeSpan PlanInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often provider inventories are checked for exited runners (container exit is also pushed).</summary>
    public TimeSpan ReapInterval { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Live runners across every pool at most (none when unset): a ceiling for the whole fleet.</summary>
    public int? MaxRunners { get; set; }

    /// <summary>Money every pool together may spend per UTC day (EUR); no new paid runners once reached. None when unset.</summary>
    public decimal? DailyBudget { get; set; }

    /// <summary>How long final records (gone and failed runners, completed jobs) are kept; older ones are deleted on reconcile.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How many runners are provisioned at once.</summary>
    public int ProvisionParallelism { get; set; } = 8;

    /// <summary>
    /// Where pools' warm caches live (<c>Fleet:Pools:N:Cache</c>), on the host of the Docker engine that mounts them:
    /// one folder per fleet, pool and scope. It must allow overlayfs upper layers (ext4, xfs, btrfs; not overlayfs or NFS).
    /// </summary>
    public string CacheDirectory { get; set; } = "/var/lib/runnerfleet/cache";
}

/// <summary>
/// One entry of <c>Fleet:Pools</c>: what every pool has. The provider's section (<c>Fleet:Pools:N:&lt;Kind&gt;</c>)
/// and the channel's keys are bound and checked by the provider and the channel themselves.
/// </summary>
internal sealed class PoolOptions
{
    public string? Name { get; set; }
    public List<string> Labels { get; set; } = [];
    public string? Provider { get; set; }
    public int MinIdle { get; set; }
    public int MaxRunners { get; set; } = 10;
    public string? Overflow { get; set; }
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);
    public TimeSpan BootTimeout { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan MaxJobDuration { get; set; } = TimeSpan.FromHours(6);

    /// <summary>Money this pool may spend per UTC day (EUR); no new servers once reached. None when unset.</summary>
    public decimal? DailyBudget { get; set; }

    /// <summary>The channel: how the pool learns of its jobs. Default: the channel registered as the default (REST jobs).</summary>
    public string? Discovery { get; set; }

    /// <summary>Serve jobs of pull requests from forks of public repositories. Off by default: a fork's code would run on your runner.</summary>
    public bool AllowForkPullRequests { get; set; }

    /// <summary>Where min-idle runners register ("owner/repo" or an organization). Default: the first organization, else the first repository.</summary>
    public string? Scope { get; set; }

    /// <summary>Warm caches for the pool's runners; none unless <see cref="CacheSettings.Paths"/> lists some.</summary>
    public CacheSettings Cache { get; set; } = new();
}
