using Microsoft.Extensions.Options;

namespace RunnerFleet.Controller.Configuration;

/// <summary>
/// The <c>Api</c> section. The read API (<c>/api/…</c>), the status page and <c>/metrics</c> name private
/// repositories, jobs and runners: they answer this machine (loopback) freely, and another machine only with
/// <see cref="ReadToken"/> (or the admin token) as a bearer token. The webhook and the health checks stay public.
/// </summary>
internal sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>Secret; at least 32 characters. Unset: the read API answers loopback only.</summary>
    public string? ReadToken { get; set; }
}

/// <summary>Checks <c>Api</c> at start.</summary>
internal sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions options) =>
        options.ReadToken is { Length: > 0 and < AdminOptionsValidator.MinSecretLength } token
            ? ValidateOptionsResult.Fail($"Api:ReadToken must be at least {AdminOptionsValidator.MinSecretLength} characters (was {token.Length}); make one with: openssl rand -hex 32")
            : ValidateOptionsResult.Success;
}
