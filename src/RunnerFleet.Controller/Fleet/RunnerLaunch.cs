
namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// Everything a provider needs to start one runner. Holds a secret (the JIT config or registration
/// token), so it is a class whose <see cref="ToString"/> leaves the secret out, not a record.
/// </summary>
internal sealed class RunnerLaunch
{
    /// <summary>What a provider needs to start <paramref name="runner"/> of <paramref name="pool"/> with its channel's registration.</summary>
    public static RunnerLaunch For(string fleet, RunnerRecord runner, PoolDefinition pool, RunnerRegistration registration, IReadOnlyList<CacheMount>? caches = null) => new()
    {
        Fleet = fleet,
        Name = runner.Name,
        Pool = pool,
        JitConfig = registration.JitConfig,
        RegistrationToken = registration.RegistrationToken,
        RegistrationUrl = registration.RegistrationUrl,
        Packages = registration.Packages,
        Caches = caches ?? [],
    };

    public required string Fleet { get; init; }
    public required string Name { get; init; }
    public required PoolDefinition Pool { get; init; }

    /// <summary>The encoded JIT config (secret), in JIT mode.</summary>
    public string? JitConfig { get; init; }

    /// <summary>The registration token (secret), in registration-token mode.</summary>
    public string? RegistrationToken { get; init; }

    /// <summary>The URL <c>config.sh --url</c> takes, in registration-token mode.</summary>
    public Uri? RegistrationUrl { get; init; }

    /// <summary>The current actions/runner release for Linux, per architecture (download URL and SHA-256), for machines that install it.</summary>
    public IReadOnlyList<RunnerPackage> Packages { get; init; } = [];

    /// <summary>The pool's warm caches for this runner, to mount copy-on-write at their guest paths (providers with <see cref="ProviderTraits.MountsCaches"/>).</summary>
    public IReadOnlyList<CacheMount> Caches { get; init; } = [];

    public override string ToString() => $"RunnerLaunch {{ Name = {Name}, Pool = {Pool.Name}, Mode = {(JitConfig is null ? "token" : "jit")} }}";
}
