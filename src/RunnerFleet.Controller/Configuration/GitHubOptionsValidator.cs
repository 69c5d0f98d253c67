using Microsoft.Extensions.Options;

namespace RunnerFleet.Controller.Configuration;

/// <summary>Checks <c>GitHub</c> at start; every message names the configuration key at fault.</summary>
internal sealed class GitHubOptionsValidator : IValidateOptions<GitHubOptions>
{
    public ValidateOptionsResult Validate(string? name, GitHubOptions options)
    {
        List<string>? errors = null;
        void Fail(string message) => (errors ??= []).Add(message);

        if (!options.ApiUrl.IsAbsoluteUri || options.ApiUrl.Scheme is not ("http" or "https"))
        {
            Fail($"GitHub:ApiUrl must be an absolute http(s) URL (was '{options.ApiUrl}').");
        }
        else if (options.ApiUrl.Scheme == "http" && !options.ApiUrl.IsLoopback && !options.AllowInsecureApiUrl)
        {
            // The token goes with every request: in clear only to this machine, unless the operator says so.
            Fail($"GitHub:ApiUrl is plain http off this machine ('{options.ApiUrl}'): use https, or set GitHub:AllowInsecureApiUrl=true.");
        }

        var hasToken = !string.IsNullOrWhiteSpace(options.Token);
        if (hasToken && options.UsesApp)
        {
            Fail("GitHub:Token and GitHub:App:Id are both set; use one way to authenticate.");
        }
        else if (!hasToken && !options.UsesApp)
        {
            Fail("GitHub:Token is missing: set GitHub:Token (a personal access token) or GitHub:App:{Id, InstallationId, PrivateKeyPath or PrivateKey}.");
        }

        if (options.UsesApp)
        {
            if (options.App.InstallationId is null or <= 0)
            {
                Fail("GitHub:App:InstallationId is required with GitHub:App:Id.");
            }

            if (string.IsNullOrWhiteSpace(options.App.PrivateKeyPath) == string.IsNullOrWhiteSpace(options.App.PrivateKey))
            {
                Fail("GitHub:App:PrivateKeyPath or GitHub:App:PrivateKey (PEM) is required with GitHub:App:Id, not both.");
            }
            else if (options.App.PrivateKeyPath is { Length: > 0 } path && !File.Exists(path))
            {
                Fail($"GitHub:App:PrivateKeyPath '{path}' does not exist.");
            }
        }

        if (options.Repositories.Count == 0 && options.Organizations.Count == 0)
        {
            Fail("GitHub:Repositories and GitHub:Organizations are both empty: name at least one owner/repo or organization.");
        }

        for (var i = 0; i < options.Repositories.Count; i++)
        {
            if (!GitHub.RepositoryNames.IsValidRepository(options.Repositories[i]))
            {
                Fail($"GitHub:Repositories:{i} must be owner/repo of letters, digits, '-', '.' and '_' (was '{options.Repositories[i]}').");
            }
        }

        if (options.WebhookSecret is { Length: > 0 and < AdminOptionsValidator.MinSecretLength } secret)
        {
            // Anyone who guesses it can post jobs; GitHub's own advice is a long random string.
            Fail($"GitHub:WebhookSecret must be at least {AdminOptionsValidator.MinSecretLength} characters (was {secret.Length}); make one with: openssl rand -hex 32");
        }

        for (var i = 0; i < options.Organizations.Count; i++)
        {
            if (!GitHub.RepositoryNames.IsValidOwner(options.Organizations[i]))
            {
                Fail($"GitHub:Organizations:{i} must be an organization name of letters, digits and '-' (was '{options.Organizations[i]}').");
            }
        }

        if (options.PollInterval < TimeSpan.Zero)
        {
            Fail($"GitHub:PollInterval must not be negative (was {options.PollInterval}).");
        }

        return errors is { Count: > 0 } ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
