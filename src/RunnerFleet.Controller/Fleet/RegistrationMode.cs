namespace RunnerFleet.Controller.Fleet;

/// <summary>How a runner registers with GitHub.</summary>
public enum RegistrationMode
{
    /// <summary>A just-in-time config: single-use, cannot register other runners. The default.</summary>
    Jit,

    /// <summary>A registration token and <c>config.sh --ephemeral</c>.</summary>
    RegistrationToken,
}
