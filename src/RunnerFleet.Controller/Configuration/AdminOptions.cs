using Microsoft.Extensions.Options;

namespace RunnerFleet.Controller.Configuration;

/// <summary>The <c>Admin</c> section: the admin API's bearer token (off when unset).</summary>
internal sealed class AdminOptions
{
    public const string Section = "Admin";

    /// <summary>Secret; at least 32 characters (e.g. <c>openssl rand -hex 32</c>).</summary>
    public string? Token { get; set; }
}

/// <summary>Checks <c>Admin</c> at start: a guessable admin token is refused.</summary>
internal sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    public const int MinSecretLength = 32;

    public ValidateOptionsResult Validate(string? name, AdminOptions options) =>
        options.Token is { Length: > 0 and < MinSecretLength } token
            ? ValidateOptionsResult.Fail($"Admin:Token must be at least {MinSecretLength} characters (was {token.Length}); make one with: openssl rand -hex 32")
            : ValidateOptionsResult.Success;
}
