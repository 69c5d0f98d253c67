namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>A REST-channel pool's keys (<c>Fleet:Pools:N:Registration</c>, <c>RunnerGroupId</c>).</summary>
internal sealed class RestChannelSettings
{
    /// <summary><c>Jit</c> (default) or <c>RegistrationToken</c>.</summary>
    public string? Registration { get; set; }

    /// <summary>The runner group JIT runners join; 1 is the default group (the only one a repository has).</summary>
    public long RunnerGroupId { get; set; } = 1;

    public RegistrationMode Mode => Registration is null ? RegistrationMode.Jit : Enum.Parse<RegistrationMode>(Registration, ignoreCase: true);

    internal static IEnumerable<string> Validate(RestChannelSettings s, string key)
    {
        if (s.Registration is not null && !Enum.TryParse<RegistrationMode>(s.Registration, ignoreCase: true, out _))
        {
            yield return $"{key}:Registration '{s.Registration}' is not known; use Jit or RegistrationToken.";
        }

        if (s.RunnerGroupId < 1)
        {
            yield return $"{key}:RunnerGroupId must be a runner group id, 1 or more (was {s.RunnerGroupId}).";
        }
    }

    internal static IReadOnlyDictionary<string, object?> Describe(RestChannelSettings s) =>
        new Dictionary<string, object?> { ["registration"] = (s.Registration is null || Enum.TryParse<RegistrationMode>(s.Registration, true, out _) ? s.Mode : RegistrationMode.Jit).ToString(), ["runnerGroupId"] = s.RunnerGroupId };
}
