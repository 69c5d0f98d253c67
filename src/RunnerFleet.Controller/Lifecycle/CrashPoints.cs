using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Fault injection for the crash-recovery tests: with <c>Testing:CrashAt</c> set to a point's name, the
/// controller kills itself with SIGKILL (what <c>kill -9</c> does: no finally blocks, no flush) the first
/// time it reaches that point. Off unless configured; compiled out of Release builds (what is deployed), so no
/// setting can reach it in production.
/// </summary>
internal sealed class CrashPoints(IConfiguration configuration)
{
    /// <summary>The GitHub registration is made; the provider has made nothing yet.</summary>
    public const string AfterRegistration = "AfterRegistration";

    /// <summary>The container or server exists; the record still says Requested.</summary>
    public const string AfterCreate = "AfterCreate";

    /// <summary>The record says Destroying; nothing is destroyed yet.</summary>
    public const string DuringTeardown = "DuringTeardown";

    /// <summary>A warm cache's next generation is built, not yet current.</summary>
    public const string DuringCacheWriteBack = "DuringCacheWriteBack";

    private readonly string? _crashAt = configuration["Testing:CrashAt"];

    public void Reached(string point)
    {
#if DEBUG
        if (string.Equals(_crashAt, point, StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"Testing:CrashAt={point}: killing the controller now.");
            Process.GetCurrentProcess().Kill();
        }
#else
        _ = point;
        _ = _crashAt;
#endif
    }
}
