using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;

namespace RunnerFleet.Controller.GitHub;

/// <summary>
/// The Authorization header for GitHub: a personal access token, or a GitHub App installation token
/// obtained with a JWT, cached and refreshed five minutes before it expires.
/// </summary>
internal sealed partial class GitHubCredentials(HttpClient http, IOptions<GitHubOptions> options, TimeProvider time, ILogger<GitHubCredentials> logger) : IDisposable
{
    private static readonly TimeSpan s_refreshBefore = TimeSpan.FromMinutes(5);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private RSA? _key;
    private AuthenticationToken? _installationToken;

    public async ValueTask<AuthenticationHeaderValue> GetAuthorizationAsync(CancellationToken ct)
    {
        var o = options.Value;
        if (!o.UsesApp)
        {
            return new AuthenticationHeaderValue("Bearer", o.Token);
        }

        var token = _installationToken;
        if (token is null || token.ExpiresAt - time.GetUtcNow() < s_refreshBefore)
        {
            await _refresh.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                token = _installationToken;
                if (token is null || token.ExpiresAt - time.GetUtcNow() < s_refreshBefore)
                {
                    token = _installationToken = await CreateInstallationTokenAsync(o, ct).ConfigureAwait(false);
                }
            }
            finally
            {
                _refresh.Release();
            }
        }

        return new AuthenticationHeaderValue("Bearer", token.Token);
    }

    private async Task<AuthenticationToken> CreateInstallationTokenAsync(GitHubOptions o, CancellationToken ct)
    {
        if (_key is null)
        {
            var key = RSA.Create();
            key.ImportFromPem(o.App.PrivateKey is { Length: > 0 } pem ? pem : await File.ReadAllTextAsync(o.App.PrivateKeyPath!, ct).ConfigureAwait(false));
            _key = key;
        }

        var jwt = GitHubAppJwt.Create(o.App.Id!, _key, time.GetUtcNow());
        using var request = new HttpRequestMessage(HttpMethod.Post, GitHubApiClient.Combine(o.ApiUrl, $"/app/installations/{o.App.InstallationId}/access_tokens"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", jwt);
        GitHubApiClient.AddStandardHeaders(request);
        using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            throw new GitHubApiException($"GitHub App installation token: {(int)response.StatusCode} {GitHubApiClient.MessageOf(body)}", response.StatusCode);
        }

        var token = await response.Content.ReadFromJsonAsync(GitHubJsonContext.Default.AuthenticationToken, ct).ConfigureAwait(false)
            ?? throw new GitHubApiException("GitHub App installation token: empty answer", response.StatusCode);
        LogTokenRefreshed(logger, o.App.InstallationId ?? 0, token.ExpiresAt);
        return token;
    }

    public void Dispose()
    {
        _refresh.Dispose();
        _key?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "GitHub App installation {InstallationId}: new installation token, valid until {ExpiresAt}")]
    private static partial void LogTokenRefreshed(ILogger logger, long installationId, DateTimeOffset expiresAt);
}
