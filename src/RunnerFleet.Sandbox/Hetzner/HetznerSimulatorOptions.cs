namespace RunnerFleet.Sandbox.Hetzner;

/// <summary>Settings of the Hetzner simulator.</summary>
public sealed class HetznerSimulatorOptions
{
    public List<string> Tokens { get; } = ["sandbox-hcloud-token"];

    /// <summary>Requests per hour and project; the budget refills by one a second, as Hetzner's does.</summary>
    public int RateLimitPerHour { get; set; } = 3600;

    /// <summary>How long a create_server action runs before the server is up.</summary>
    public TimeSpan BootDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long other actions (delete, rebuild, poweroff) run.</summary>
    public TimeSpan ActionDelay { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Servers a project may hold before resource_limit_exceeded.</summary>
    public int MaxServers { get; set; } = 100;
}
