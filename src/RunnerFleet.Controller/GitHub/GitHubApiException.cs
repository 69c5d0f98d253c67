using System.Net;

namespace RunnerFleet.Controller.GitHub;

/// <summary>A GitHub API call that failed; the message never holds a token or JIT config.</summary>
internal sealed class GitHubApiException(string message, HttpStatusCode? status = null, Exception? inner = null) : Exception(message, inner)
{
    public HttpStatusCode? Status { get; } = status;
}
