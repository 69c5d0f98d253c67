namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// What a channel's registration gives a runner to start with. Holds a secret (the JIT config or the
/// registration token), so it is a class whose <see cref="ToString"/> leaves the secret out.
/// </summary>
internal sealed class RunnerRegistration
{
    /// <summary>GitHub's id of the runner, when registration made it (JIT).</summary>
    public long? GitHubRunnerId { get; init; }

    /// <summary>The encoded JIT config (secret).</summary>
    public string? JitConfig { get; init; }

    /// <summary>The registration token (secret), for <c>config.sh --token</c>.</summary>
    public string? RegistrationToken { get; init; }

    /// <summary>The URL <c>config.sh --url</c> takes, with a registration token.</summary>
    public Uri? RegistrationUrl { get; init; }

    /// <summary>The current actions/runner release for Linux, per architecture, for machines that install it (empty when GitHub did not say).</summary>
    public IReadOnlyList<RunnerPackage> Packages { get; init; } = [];

    /// <summary>Where GitHub registered the runner when that is not its record's scope (a scale set's own scope): whose jobs it may get.</summary>
    public string? RegisteredAt { get; init; }

    public override string ToString() => $"RunnerRegistration {{ GitHubRunnerId = {GitHubRunnerId}, Mode = {(JitConfig is null ? "token" : "jit")} }}";
}
