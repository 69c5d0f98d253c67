using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RunnerFleet.Controller.GitHub;

/// <summary>
/// The JWT a GitHub App signs to ask for installation tokens: RS256, <c>iat</c> 60 s in the past for
/// clock drift, <c>exp</c> under 10 minutes ahead, <c>iss</c> the App or client ID. Hand-rolled: it is
/// three base64url parts and one RSA signature, no package needed.
/// </summary>
internal static class GitHubAppJwt
{
    public static string Create(string issuer, RSA key, DateTimeOffset now)
    {
        var header = Base64Url(Encoding.UTF8.GetBytes("""{"alg":"RS256","typ":"JWT"}"""));
        var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["iat"] = now.AddSeconds(-60).ToUnixTimeSeconds(),
            ["exp"] = now.AddMinutes(9).ToUnixTimeSeconds(),
            ["iss"] = long.TryParse(issuer, out var numeric) ? numeric : issuer,
        }));
        var signature = key.SignData(Encoding.ASCII.GetBytes($"{header}.{payload}"), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return $"{header}.{payload}.{Base64Url(signature)}";
    }

    public static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
