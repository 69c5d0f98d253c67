namespace RunnerFleet.Controller.Fleet;

/// <summary>A validated pool: which jobs it serves, where its runners run, and its limits.</summary>
internal sealed record PoolDefinition
{
    public required string Name { get; init; }

    /// <summary>The pool's labels; <c>self-hosted</c> is always among them.</summary>
    public required IReadOnlyList<string> Labels { get; init; }

    /// <summary>The kind of a registered provider: where the pool's runners run.</summary>
    public required string Provider { get; init; }

    public int MinIdle { get; init; }

    public int MaxRunners { get; init; } = 10;

    /// <summary>The pool that takes demand this one cannot place.</summary>
    public string? Overflow { get; init; }

    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan MaxJobDuration { get; init; } = TimeSpan.FromHours(6);

    /// <summary>Where min-idle runners register: "owner/repo" or an organization. Jobs bring their own scope.</summary>
    public string? DefaultScope { get; init; }

    /// <summary>Money this pool may spend per UTC day (EUR, Hetzner servers); no new servers once reached. None when null.</summary>
    public decimal? DailyBudget { get; init; }

    /// <summary>The pool's warm caches, or null for none.</summary>
    public CacheSettings? Cache { get; init; }

    /// <summary>Whether jobs of fork pull requests in public repositories get runners (default: refused).</summary>
    public bool AllowForkPullRequests { get; init; }

    /// <summary>How GitHub hands this pool its jobs and its runners their identity: a registered channel's kind (e.g. REST jobs, a scale set).</summary>
    public string Channel { get; init; } = string.Empty;

    /// <summary>The channel's own settings for this pool; only the channel reads them.</summary>
    public object? ChannelSettings { get; init; }

    /// <summary>The provider's own settings for this pool (its <c>Fleet:Pools:N:&lt;Kind&gt;</c> section); only the provider reads them.</summary>
    public object? ProviderSettings { get; init; }

    /// <summary>What the pool's provider is like (billing, ...), as it registered itself.</summary>
    public ProviderTraits Traits { get; init; } = ProviderTraits.Free;

    /// <summary>Whether this pool's runners cost money (its provider bills by the hour).</summary>
    public bool IsPaid => Traits.BillsPerHour;

    /// <summary>The provider's settings as its own type; a pool configured without a section gets the defaults.</summary>
    public T ProviderSettingsAs<T>() where T : class, new() => ProviderSettings switch
    {
        null => new T(),
        T settings => settings,
        var other => throw new InvalidOperationException($"pool {Name} holds {other.GetType().Name} provider settings, not {typeof(T).Name}"),
    };

    /// <summary>The channel's settings as its own type; a pool configured without them gets the defaults.</summary>
    public T ChannelSettingsAs<T>() where T : class, new() => ChannelSettings switch
    {
        null => new T(),
        T settings => settings,
        var other => throw new InvalidOperationException($"pool {Name} holds {other.GetType().Name} channel settings, not {typeof(T).Name}"),
    };
}
