using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Providers.Docker;

/// <summary>
/// At start, checks that the engine can run each Docker pool's <c>Platform</c> (e.g. linux/arm64 on x86
/// through QEMU user-mode emulation). A pool that cannot is marked unavailable, with a log line that says
/// what to install; its jobs go to its overflow pool, if any.
/// </summary>
internal sealed partial class DockerPlatformCheck(IServiceProvider services, PoolCatalog pools, PoolAvailability availability, FleetTelemetry telemetry, ILogger<DockerPlatformCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var pool in pools.Pools.Where(p => p.Provider == DockerProvider.KindName && p.ProviderSettingsAs<DockerPoolSettings>().Platform is not null))
        {
            var docker = services.GetRequiredService<DockerProvider>();
            var platform = pool.ProviderSettingsAs<DockerPoolSettings>().Platform!;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(90));
            string? problem;
            try
            {
                problem = await docker.ProbePlatformAsync(pool, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                LogSlow(logger, pool.Name, platform);
                continue;
            }

            if (problem is null)
            {
                LogOk(logger, pool.Name, platform);
                continue;
            }

            availability.MarkUnavailable(pool.Name, DateTimeOffset.MaxValue, $"platform {platform} unsupported: {problem}");
            telemetry.PoolUnavailable(pool.Name, "platform");
            LogUnsupported(logger, pool.Name, platform, problem, pool.Overflow ?? "none");
        }

    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Pool {Pool}: the Docker engine runs {Platform} containers")]
    private static partial void LogOk(ILogger logger, string pool, string platform);

    [LoggerMessage(Level = LogLevel.Error, Message = "Pool {Pool}: the Docker engine cannot run {Platform} containers ({Problem}). For arm64 on x86 install QEMU user-mode emulation (apt-get install qemu-user-static binfmt-support). The pool makes no runners; its jobs go to overflow pool {Overflow}")]
    private static partial void LogUnsupported(ILogger logger, string pool, string platform, string problem, string overflow);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pool {Pool}: checking {Platform} support took too long (pulling the image?); runners will tell")]
    private static partial void LogSlow(ILogger logger, string pool, string platform);
}
