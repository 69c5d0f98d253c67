namespace RunnerFleet.Controller.Configuration;

/// <summary>The <c>GitHub</c> configuration section.</summary>
internal sealed class GitHubOptions
{
    public const string Section = "GitHub";

    /// <summary>REST API base: https://api.github.com, https://HOST/api/v3 (GHES), or the sandbox simulator.</summary>
    public Uri ApiUrl { get; set; } = new("https://api.github.com");

    /// <summary>The URL runners register against (<c>config.sh --url</c>). Default: derived from <see cref="ApiUrl"/>.</summary>
    public Uri? WebUrl { get; set; }

    /// <summary>A personal access token; or use <see cref="App"/>.</summary>
    public string? Token { get; set; }

    public GitHubAppOptions App { get; set; } = new();

    public List<string> Repositories { get; set; } = [];

    public List<string> Organizations { get; set; } = [];

    /// <summary>Secret of the webhook; when empty the webhook endpoint refuses every delivery.</summary>
    public string? WebhookSecret { get; set; }

    /// <summary>Allow an <c>http://</c> API URL off this machine (tokens would cross the network in clear). Off: only loopback may be plain HTTP.</summary>
    public bool AllowInsecureApiUrl { get; set; }

    /// <summary>How often the REST job source polls. Zero turns polling off (webhooks only).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(10);

    public Uri EffectiveWebUrl => WebUrl ?? DeriveWebUrl(ApiUrl);

    public bool UsesApp => App.Id is not null;

    internal static Uri DeriveWebUrl(Uri api)
    {
        if (string.Equals(api.Host, "api.github.com", StringComparison.OrdinalIgnoreCase))
        {
            return new Uri("https://github.com");
        }

        // GitHub Enterprise Cloud with data residency: API https://api.NAME.ghe.com, web https://NAME.ghe.com.
        if (api.Host.StartsWith("api.", StringComparison.OrdinalIgnoreCase) && api.Host.EndsWith(".ghe.com", StringComparison.OrdinalIgnoreCase))
        {
            return new Uri($"{api.Scheme}://{api.Host["api.".Length..]}/");
        }

        var path = api.AbsolutePath.TrimEnd('/');
        return path.EndsWith("/api/v3", StringComparison.OrdinalIgnoreCase)
            ? new Uri(api, path[..^"/api/v3".Length] + "/")
            : new Uri(api.GetLeftPart(UriPartial.Authority));
    }
}

/// <summary><c>GitHub:App</c>: authenticate as a GitHub App installation.</summary>
internal sealed class GitHubAppOptions
{
    /// <summary>The App ID or client ID (the JWT's <c>iss</c>).</summary>
    public string? Id { get; set; }

    public long? InstallationId { get; set; }

    /// <summary>A PEM file holding the App's private key.</summary>
    public string? PrivateKeyPath { get; set; }

    /// <summary>The App's private key itself (PEM), for secret stores and Aspire parameters. Secret; use this or <see cref="PrivateKeyPath"/>.</summary>
    public string? PrivateKey { get; set; }
}
