namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>How a REST-channel runner registers with GitHub.</summary>
internal enum RegistrationMode
{
    /// <summary>A just-in-time config: single-use, cannot register other runners. The default.</summary>
    Jit,

    /// <summary>A registration token and <c>config.sh --ephemeral</c>.</summary>
    RegistrationToken,
}
