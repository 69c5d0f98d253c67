using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RunnerFleet.Controller.GitHub;

namespace RunnerFleet.Controller.Tests.GitHub;

public sealed class GitHubAppJwtTests
{
    private static byte[] FromBase64Url(string s)
    {
        var p = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(p + new string('=', (4 - (p.Length % 4)) % 4));
    }

    [Fact]
    public void Signs_an_rs256_jwt_github_accepts()
    {
        using var key = RSA.Create(2048);
        var now = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

        var jwt = GitHubAppJwt.Create("123456", key, now);
        var parts = jwt.Split('.');

        Assert.Equal(3, parts.Length);
        Assert.DoesNotContain('=', jwt);
        using var header = JsonDocument.Parse(FromBase64Url(parts[0]));
        using var payload = JsonDocument.Parse(FromBase64Url(parts[1]));
        Assert.Equal("RS256", header.RootElement.GetProperty("alg").GetString());
        Assert.Equal(123456, payload.RootElement.GetProperty("iss").GetInt64());
        Assert.Equal(now.AddSeconds(-60).ToUnixTimeSeconds(), payload.RootElement.GetProperty("iat").GetInt64());
        var exp = DateTimeOffset.FromUnixTimeSeconds(payload.RootElement.GetProperty("exp").GetInt64());
        Assert.InRange(exp - now, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10));
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), FromBase64Url(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    [Fact]
    public void A_client_id_issuer_stays_a_string()
    {
        using var key = RSA.Create(2048);
        var payload = JsonDocument.Parse(FromBase64Url(GitHubAppJwt.Create("Iv23liAbCdEf", key, DateTimeOffset.UtcNow).Split('.')[1]));

        Assert.Equal("Iv23liAbCdEf", payload.RootElement.GetProperty("iss").GetString());
    }
}
