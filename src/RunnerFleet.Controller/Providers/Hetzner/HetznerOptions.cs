namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>The <c>Hetzner</c> section: the Cloud API and its token.</summary>
internal sealed class HetznerOptions
{
    public const string Section = "Hetzner";

    public Uri ApiUrl { get; set; } = new("https://api.hetzner.cloud/v1");

    /// <summary>A project API token (read/write). Secret.</summary>
    public string? Token { get; set; }

    /// <summary>How long one API request may take before it is abandoned and retried.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The first wait before running actions are polled (in batches); each later wait is half again as long, up to 8 times this.</summary>
    public TimeSpan ActionPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long one list of the fleet's servers serves every reader (the reaper, the reconciler, creates) before
    /// it is read again; the provider's own creates and deletes update it meanwhile, and the reaper takes a server
    /// missing from it for gone only when the list was read after the server was made. 60 reads an hour as shipped,
    /// while the fleet has Hetzner runners; a server that powers off after its job is seen within this time (or the
    /// reaper's grace after its job's completion, whichever comes first).
    /// </summary>
    public TimeSpan ServerListMaxAge { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The longest <see cref="ServerListMaxAge"/> allowed: a server that stopped is seen within it.</summary>
    public static readonly TimeSpan ServerListMaxAgeLimit = TimeSpan.FromMinutes(10);

    /// <summary>How long a server create may take before it counts as failed.</summary>
    public TimeSpan ActionTimeout { get; set; } = TimeSpan.FromMinutes(5);
}
