using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;

namespace RunnerFleet.Controller.Api;

/// <summary>
/// Guards what the controller shows (<c>/</c>, <c>/api/…</c>, <c>/metrics</c>): open to this machine, and to others
/// with <c>Api:ReadToken</c> or <c>Admin:Token</c> as a bearer token. Everything else (the GitHub webhook, the health
/// checks) is not guarded here: the webhook checks its own signature.
/// </summary>
internal static class ReadAccess
{
    public static IApplicationBuilder UseReadAccess(this IApplicationBuilder app) =>
        app.Use(async (ctx, next) =>
        {
            var path = ctx.Request.Path;
            var guarded = path == "/" || path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase);
            if (!guarded || IsLoopback(ctx.Connection.RemoteIpAddress) || HasToken(ctx))
            {
                await next(ctx).ConfigureAwait(false);
                return;
            }

            ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await ctx.Response.WriteAsJsonAsync(new { error = "from another machine, the read API needs Api:ReadToken (or the admin token) as a bearer token" }).ConfigureAwait(false);
        });

    private static bool IsLoopback(IPAddress? address) => address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    private static bool HasToken(HttpContext ctx)
    {
        var auth = ctx.Request.Headers.Authorization.ToString();
        if (!auth.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return false;
        }

        var given = SHA256.HashData(Encoding.UTF8.GetBytes(auth[7..]));
        var read = ctx.RequestServices.GetRequiredService<IOptions<ApiOptions>>().Value.ReadToken;
        var admin = ctx.RequestServices.GetRequiredService<IOptions<AdminOptions>>().Value.Token;
        return new[] { read, admin }.Any(t => !string.IsNullOrEmpty(t) && CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(t))));
    }
}
