using System.Security.Cryptography;
using System.Text;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Api;

/// <summary>
/// The admin API: drain or resume a pool, drop its warm cache, destroy a runner, reconcile now. Every call needs
/// <c>Authorization: Bearer &lt;Admin:Token&gt;</c> (compared in constant time) and is logged with its outcome.
/// Without <c>Admin:Token</c> the admin API is off.
/// </summary>
internal static partial class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api").AddEndpointFilter(async (ctx, next) =>
        {
            var http = ctx.HttpContext;
            var token = http.RequestServices.GetRequiredService<IConfiguration>()["Admin:Token"];
            var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("RunnerFleet.Admin");
            if (string.IsNullOrEmpty(token))
            {
                return Results.Json(new { error = "the admin API is off: set Admin:Token" }, statusCode: StatusCodes.Status403Forbidden);
            }

            var auth = http.Request.Headers.Authorization.ToString();
            var given = auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth[7..] : string.Empty;
            // Compared as SHA-256 digests in constant time: neither the token's content nor its length leaks.
            if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(token))))
            {
                LogRefused(logger, http.Request.Method, http.Request.Path, http.Connection.RemoteIpAddress?.ToString() ?? "-");
                return Results.Json(new { error = "a valid admin bearer token is required" }, statusCode: StatusCodes.Status401Unauthorized);
            }

            return await next(ctx).ConfigureAwait(false);
        });

        admin.MapPost("/pools/{name}/drain", async (string name, PoolCatalog pools, IFleetStore store, ILoggerFactory lf, CancellationToken ct) =>
        {
            if (pools.Find(name) is null)
            {
                return Results.NotFound(new { error = $"no pool named {name}" });
            }

            await store.SetPoolDrainedAsync(name, true, ct).ConfigureAwait(false);
            LogAction(lf.CreateLogger("RunnerFleet.Admin"), "drain", name, "no new runners; busy runners finish");
            return Results.Ok(new { pool = name, drained = true });
        });

        // Drops a pool's warm cache: one repository's (?repository=owner/name) or every scope of the pool.
        admin.MapDelete("/pools/{name}/cache", async (string name, string? repository, PoolCatalog pools, Caching.RunnerCaches caches, ILoggerFactory lf, CancellationToken ct) =>
        {
            if (pools.Find(name) is not { } pool)
            {
                return Results.NotFound(new { error = $"no pool named {name}" });
            }

            if (pool.Cache is null)
            {
                return Results.BadRequest(new { error = $"pool {name} has no cache (Fleet:Pools:N:Cache:Paths)" });
            }

            if (repository is not null && !GitHub.RepositoryNames.IsValidRepository(repository))
            {
                return Results.BadRequest(new { error = $"'{repository}' is not a repository (owner/name)" });
            }

            var dropped = await caches.DropAsync(name, repository, ct).ConfigureAwait(false);
            LogAction(lf.CreateLogger("RunnerFleet.Admin"), "drop cache", name, dropped ? $"dropped {repository ?? "every scope"}" : $"no cache for {repository ?? "any scope"}");
            return Results.Ok(new { pool = name, repository, dropped });
        });

        admin.MapPost("/pools/{name}/resume", async (string name, PoolCatalog pools, IFleetStore store, IFleetSignals signals, ILoggerFactory lf, CancellationToken ct) =>
        {
            if (pools.Find(name) is null)
            {
                return Results.NotFound(new { error = $"no pool named {name}" });
            }

            await store.SetPoolDrainedAsync(name, false, ct).ConfigureAwait(false);
            signals.DemandChanged();
            LogAction(lf.CreateLogger("RunnerFleet.Admin"), "resume", name, "provisioning again");
            return Results.Ok(new { pool = name, drained = false });
        });

        admin.MapDelete("/runners/{name}", async (string name, bool? force, IFleetStore store, Reaper reaper, ILoggerFactory lf, CancellationToken ct) =>
        {
            if (await store.FindRunnerByNameAsync(name, ct).ConfigureAwait(false) is not { } runner)
            {
                return Results.NotFound(new { error = $"no runner named {name}" });
            }

            if (RunnerStateMachine.IsFinal(runner.State))
            {
                return Results.Ok(new { runner = name, state = runner.State.ToString() });
            }

            if (runner.State == RunnerState.Busy && force != true)
            {
                return Results.Conflict(new { error = $"{name} is running a job; add ?force=true to destroy it anyway (the job fails)" });
            }

            await reaper.RetireAsync(new Retirement(runner.Id, runner.Name, RetirementKind.MaxJobDuration, "destroyed by an operator"), ct).ConfigureAwait(false);
            LogAction(lf.CreateLogger("RunnerFleet.Admin"), "destroy runner", name, force == true ? "forced" : "idle or starting");
            var after = await store.FindRunnerByNameAsync(name, ct).ConfigureAwait(false);
            return Results.Ok(new { runner = name, state = after?.State.ToString() });
        });

        admin.MapPost("/reconcile", async (Reconciler reconciler, ILoggerFactory lf, CancellationToken ct) =>
        {
            var result = await reconciler.ReconcileAsync(ct).ConfigureAwait(false);
            LogAction(lf.CreateLogger("RunnerFleet.Admin"), "reconcile", "fleet", $"{result.OrphanResources} orphan resources, {result.GhostRunners} ghost runners removed");
            return Results.Ok(result);
        });

        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin: {Action} on {Target}: {Outcome}")]
    private static partial void LogAction(ILogger logger, string action, string target, string outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin: refused {Method} {Path} from {Remote}: no valid bearer token")]
    private static partial void LogRefused(ILogger logger, string method, PathString path, string remote);
}
