using System.Globalization;

namespace RunnerFleet.Sandbox;

/// <summary>
/// A fleet's configuration, typed: the one way the sandbox, the tests and the benchmarks describe the
/// controller they start (<c>new FleetSettings("it").GitHub(sim.BaseUrl).DockerPool("linux", max: 8, ...)</c>),
/// instead of string keys written out in each place. <see cref="Build"/> gives the configuration keys the
/// controller reads; they are the keys an operator writes (README, Configuration).
/// </summary>
public sealed class FleetSettings
{
    /// <summary>The token the GitHub simulator always accepts.</summary>
    public const string SandboxToken = "sandbox-token";

    /// <summary>The token the Hetzner simulator always accepts.</summary>
    public const string SandboxHetznerToken = "sandbox-hcloud-token";

    private readonly Dictionary<string, string?> _values = new(StringComparer.OrdinalIgnoreCase);
    private int _pools;
    private int _repositories;

    public FleetSettings(string fleet) => _values["Fleet:Name"] = fleet;

    public string Fleet => _values["Fleet:Name"]!;

    /// <summary>GitHub (or its simulator): API, the URL runners register against, token, webhook secret, poll interval.</summary>
    public FleetSettings GitHub(Uri apiUrl, string? webUrl = null, string token = SandboxToken, string? webhookSecret = null, TimeSpan? pollInterval = null)
    {
        _values["GitHub:ApiUrl"] = apiUrl.ToString();
        _values["GitHub:WebUrl"] = webUrl ?? apiUrl.ToString();
        _values["GitHub:Token"] = token;
        _values["GitHub:WebhookSecret"] = webhookSecret;
        if (pollInterval is { } poll)
        {
            _values["GitHub:PollInterval"] = Span(poll);
        }

        return this;
    }

    public FleetSettings Repositories(params IEnumerable<string> repositories)
    {
        foreach (var repository in repositories)
        {
            _values[$"GitHub:Repositories:{_repositories++}"] = repository;
        }

        return this;
    }

    /// <summary>The Hetzner Cloud API (or its simulator) and its token.</summary>
    public FleetSettings Hetzner(Uri apiUrl, string token = SandboxHetznerToken, TimeSpan? actionPollInterval = null)
    {
        _values["Hetzner:ApiUrl"] = apiUrl.ToString();
        _values["Hetzner:Token"] = token;
        if (actionPollInterval is { } poll)
        {
            _values["Hetzner:ActionPollInterval"] = Span(poll);
        }

        return this;
    }

    /// <summary>The SQLite file (or, with <paramref name="postgres"/>, the PostgreSQL connection string) of the store.</summary>
    public FleetSettings Store(string connectionString, bool postgres = false)
    {
        _values["ConnectionStrings:Fleet"] = postgres ? connectionString : $"Data Source={connectionString}";
        _values["Store:Provider"] = postgres ? "postgres" : null;
        return this;
    }

    /// <summary>How often the loops run (tests run them faster than the defaults).</summary>
    public FleetSettings Loops(TimeSpan? plan = null, TimeSpan? reap = null, TimeSpan? reconcile = null)
    {
        Optional("Fleet:PlanInterval", plan);
        Optional("Fleet:ReapInterval", reap);
        Optional("Fleet:ReconcileInterval", reconcile);
        return this;
    }

    /// <summary>Host ports runners on isolated Docker networks may still reach (the simulator's).</summary>
    public FleetSettings AllowHostPorts(params IEnumerable<int> ports)
    {
        var i = 0;
        foreach (var port in ports)
        {
            _values[$"Docker:AllowedHostPorts:{i++}"] = port.ToString(CultureInfo.InvariantCulture);
        }

        return this;
    }

    /// <summary>Any other key, as written in configuration.</summary>
    public FleetSettings Set(string key, string? value)
    {
        _values[key] = value;
        return this;
    }

    /// <summary>A pool of Docker containers of <paramref name="image"/> (small limits by default: simulated runners need little).</summary>
    public FleetSettings DockerPool(string name, int max, IEnumerable<string> labels, string image, string? network = null, double cpus = 0.25, int memoryMb = 64, int pidsLimit = 64, Action<PoolSettings>? pool = null) =>
        Pool(name, "docker", max, labels, p =>
        {
            p.Set("Docker:Image", image).Set("Docker:Network", network).Set("Docker:Cpus", cpus.ToString(CultureInfo.InvariantCulture))
             .Set("Docker:MemoryMb", memoryMb.ToString(CultureInfo.InvariantCulture)).Set("Docker:PidsLimit", pidsLimit.ToString(CultureInfo.InvariantCulture));
            pool?.Invoke(p);
        });

    /// <summary>A pool of Hetzner Cloud servers: server types and locations in order of preference.</summary>
    public FleetSettings HetznerPool(string name, int max, IEnumerable<string> labels, IEnumerable<string> serverTypes, IEnumerable<string> locations, Action<PoolSettings>? pool = null) =>
        Pool(name, "hetzner", max, labels, p =>
        {
            p.List("Hetzner:ServerTypes", serverTypes).List("Hetzner:Locations", locations);
            pool?.Invoke(p);
        });

    /// <summary>A pool of simulated runners in the controller's process (needs <c>AddInProcessProvider()</c>).</summary>
    public FleetSettings InProcessPool(string name, int max, IEnumerable<string> labels, Action<PoolSettings>? pool = null) =>
        Pool(name, "inprocess", max, labels, pool);

    /// <summary>A pool fed by a runner scale set named after it (its jobs' <c>runs-on</c>), its runners Docker containers of <paramref name="image"/>.</summary>
    public FleetSettings ScaleSetPool(string name, int max, string image, string? network = null, Action<PoolSettings>? pool = null) =>
        DockerPool(name, max, [name], image, network, pool: p =>
        {
            p.Set("Discovery", "ScaleSet");
            pool?.Invoke(p);
        });

    /// <summary>A pool of any provider kind.</summary>
    public FleetSettings Pool(string name, string provider, int max, IEnumerable<string> labels, Action<PoolSettings>? pool = null)
    {
        var p = new PoolSettings(_values, $"Fleet:Pools:{_pools++}");
        p.Set("Name", name).Set("Provider", provider).Set("MaxRunners", max.ToString(CultureInfo.InvariantCulture)).List("Labels", labels);
        pool?.Invoke(p);
        return this;
    }

    /// <summary>The configuration keys and values.</summary>
    public IDictionary<string, string?> Build() => new Dictionary<string, string?>(_values.Where(kv => kv.Value is not null), StringComparer.OrdinalIgnoreCase);

    private void Optional(string key, TimeSpan? value)
    {
        if (value is { } v)
        {
            _values[key] = Span(v);
        }
    }

    internal static string Span(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);
}

/// <summary>One pool's keys (<c>Fleet:Pools:N:…</c>).</summary>
public sealed class PoolSettings(Dictionary<string, string?> values, string prefix)
{
    public PoolSettings Set(string key, string? value)
    {
        values[$"{prefix}:{key}"] = value;
        return this;
    }

    public PoolSettings List(string key, IEnumerable<string> items)
    {
        var i = 0;
        foreach (var item in items)
        {
            values[$"{prefix}:{key}:{i++}"] = item;
        }

        return this;
    }

    public PoolSettings MinIdle(int count) => Set("MinIdle", count.ToString(CultureInfo.InvariantCulture));

    public PoolSettings Overflow(string pool) => Set("Overflow", pool);

    public PoolSettings BootTimeout(TimeSpan timeout) => Set("BootTimeout", FleetSettings.Span(timeout));

    public PoolSettings RegistrationToken() => Set("Registration", "RegistrationToken");

    public PoolSettings AllowForkPullRequests() => Set("AllowForkPullRequests", "true");

    public PoolSettings DailyBudget(decimal euros) => Set("DailyBudget", euros.ToString(CultureInfo.InvariantCulture));
}
