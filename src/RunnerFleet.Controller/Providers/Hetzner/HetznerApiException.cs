using System.Net;

namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>A Hetzner API error. Decide on <see cref="Code"/> (the API's <c>error.code</c>), not the HTTP status.</summary>
internal sealed class HetznerApiException(string code, string message, HttpStatusCode status) : Exception($"Hetzner {code}: {message}")
{
    public string Code { get; } = code;

    public HttpStatusCode Status { get; } = status;

    /// <summary>Worth retrying as it is: the API says so for these.</summary>
    public bool IsTransient => Code is "conflict" or "rate_limit_exceeded" or "timeout" or "locked" or "server_error" or "unavailable";
}
