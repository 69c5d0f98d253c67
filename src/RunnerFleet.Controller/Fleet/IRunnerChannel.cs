namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// How GitHub hands a pool its jobs and its runners their identity (REST jobs with JIT configs or
/// registration tokens, a runner scale set, ...). The lifecycle asks the pool's channel, never names one.
/// </summary>
internal interface IRunnerChannel
{
    /// <summary>The channel's kind, as pools name it (<c>Fleet:Pools:N:Discovery</c>).</summary>
    string Kind { get; }

    /// <summary>Registers a runner with GitHub: what the runner needs to start (a JIT config or a registration token).</summary>
    Task<RunnerRegistration> RegisterAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct);

    /// <summary>Removes the runner's GitHub identity. Never a busy runner: returns false when it was kept because it runs a job.</summary>
    Task<bool> DeregisterAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct);

    /// <summary>Whether GitHub no longer knows the runner (an ephemeral runner is de-registered after its one job); null when unknown.</summary>
    Task<bool?> IsDeregisteredAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct);

    /// <summary>Whether a job seen by another channel's sources is this channel's to serve (those sources then leave it alone).</summary>
    bool Claims(JobRecord job);
}
