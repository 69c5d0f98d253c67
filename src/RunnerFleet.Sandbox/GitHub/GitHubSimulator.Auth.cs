using System.Security.Cryptography;
using System.Text;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>Auth and rate limits: tokens, GitHub Apps (JWT check, installation tokens), hourly rate-limit windows and injected faults.</summary>
public sealed partial class GitHubSimulator
{
    // ---------------------------------------------------------------- auth and rate limits

    public void AddToken(string token)
    {
        lock (_gate)
        {
            if (!Options.Tokens.Contains(token))
            {
                Options.Tokens.Add(token);
            }
        }
    }

    public void RegisterApp(long appId, long installationId, string publicKeyPem)
    {
        var rsa = System.Security.Cryptography.RSA.Create();
        rsa.ImportFromPem(publicKeyPem);
        lock (_gate)
        {
            _apps[appId] = new SimApp(appId, installationId, rsa);
        }
    }

    /// <summary>Checks a GitHub App JWT (RS256, iat/exp window, iss = app id).</summary>
    public (long? AppId, string? Error) VerifyAppJwt(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            return (null, "A JSON web token could not be decoded");
        }

        try
        {
            using var header = System.Text.Json.JsonDocument.Parse(Base64Url(parts[0]));
            using var payload = System.Text.Json.JsonDocument.Parse(Base64Url(parts[1]));
            if (header.RootElement.GetProperty("alg").GetString() != "RS256")
            {
                return (null, "'alg' must be RS256");
            }

            var iss = payload.RootElement.GetProperty("iss");
            var appId = iss.ValueKind == System.Text.Json.JsonValueKind.Number ? iss.GetInt64() : long.Parse(iss.GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            var iat = DateTimeOffset.FromUnixTimeSeconds(payload.RootElement.GetProperty("iat").GetInt64());
            var exp = DateTimeOffset.FromUnixTimeSeconds(payload.RootElement.GetProperty("exp").GetInt64());
            SimApp? app;
            lock (_gate)
            {
                app = _apps.GetValueOrDefault(appId);
            }

            if (app is null)
            {
                return (null, "Integration not found");
            }

            var signed = Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}");
            if (!app.Key.VerifyData(signed, Base64Url(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
            {
                return (null, "A JSON web token could not be decoded");
            }

            var now = Now;
            if (exp < now || iat > now.AddSeconds(60) || exp - iat > TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(60))
            {
                return (null, "'Expiration time' claim ('exp') is too far in the future, or the token has expired");
            }

            return (appId, null);
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return (null, "A JSON web token could not be decoded");
        }
    }

    public (string Token, DateTimeOffset ExpiresAt)? CreateInstallationToken(long appId, long installationId)
    {
        lock (_gate)
        {
            if (!_apps.TryGetValue(appId, out var app) || app.InstallationId != installationId)
            {
                return null;
            }

            var token = "ghs_" + RandomToken(36);
            var expires = Now.AddHours(1);
            _installationTokens[token] = expires;
            InstallationTokensIssued++;
            return (token, expires);
        }
    }

    public bool IsValidToken(string token)
    {
        lock (_gate)
        {
            return Options.Tokens.Contains(token) || (_installationTokens.TryGetValue(token, out var exp) && exp > Now);
        }
    }

    /// <summary>Counts a request against the token's hourly window and returns the window's state after it.</summary>
    public RateState Charge(string token, bool charge)
    {
        lock (_gate)
        {
            ApiRequests++;
            var now = Now;
            if (!_rate.TryGetValue(token, out var w) || w.Reset <= now)
            {
                w = new RateWindow { Reset = now.AddHours(1) };
                _rate[token] = w;
            }

            if (charge && w.Used < Options.RateLimitPerHour)
            {
                w.Used++;
                RateLimitedRequests++;
            }
            else if (!charge)
            {
                NotModifiedResponses++;
            }

            return new RateState(Options.RateLimitPerHour, Options.RateLimitPerHour - w.Used, w.Used, w.Reset);
        }
    }

    public RateState PeekRate(string token)
    {
        lock (_gate)
        {
            var now = Now;
            return _rate.TryGetValue(token, out var w) && w.Reset > now
                ? new RateState(Options.RateLimitPerHour, Options.RateLimitPerHour - w.Used, w.Used, w.Reset)
                : new RateState(Options.RateLimitPerHour, Options.RateLimitPerHour, 0, now.AddHours(1));
        }
    }

    public void ExhaustRateLimit(string token)
    {
        lock (_gate)
        {
            Charge(token, true);
            _rate[token].Used = Options.RateLimitPerHour;
        }
    }

    public void AddFault(SimFault fault)
    {
        lock (_gate)
        {
            _faults.Add(fault);
        }
    }

    /// <summary>Drops every injected fault not yet answered: GitHub answers normally again.</summary>
    public void ClearFaults()
    {
        lock (_gate)
        {
            _faults.Clear();
        }
    }

    /// <summary>How many injected faults were answered so far.</summary>
    public int FaultsServed { get; private set; }

    public SimFault? TakeFault(string method, string path)
    {
        lock (_gate)
        {
            var fault = _faults.FirstOrDefault(f => f.Count > 0 && path.StartsWith(f.PathPrefix, StringComparison.OrdinalIgnoreCase)
                && (f.PathContains is null || path.Contains(f.PathContains, StringComparison.OrdinalIgnoreCase))
                && (f.Method is null || string.Equals(f.Method, method, StringComparison.OrdinalIgnoreCase)));
            if (fault is not null && --fault.Count == 0)
            {
                _faults.Remove(fault);
            }

            if (fault is not null)
            {
                FaultsServed++;
            }

            return fault;
        }
    }

    // ---------------------------------------------------------------- helpers

    private static byte[] Base64Url(string s)
    {
        var padded = s.Replace('-', '+').Replace('_', '/');
        padded += (padded.Length % 4) switch { 2 => "==", 3 => "=", _ => string.Empty };
        return Convert.FromBase64String(padded);
    }

    private sealed class RateWindow
    {
        public DateTimeOffset Reset { get; init; }
        public int Used { get; set; }
    }

    private sealed record SimApp(long AppId, long InstallationId, System.Security.Cryptography.RSA Key);
}

/// <summary>The primary rate limit window of one token.</summary>
public readonly record struct RateState(int Limit, int Remaining, int Used, DateTimeOffset Reset);
