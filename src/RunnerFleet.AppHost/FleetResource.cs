namespace RunnerFleet.AppHost;

/// <summary>
/// The runner fleet as the Aspire dashboard shows it: its state, and as properties the pools with their
/// runners by state and queued jobs, read from the controller's HTTP API. Its commands (reconcile now,
/// drain or resume a pool) call the controller's admin API with the admin token.
/// </summary>
public sealed class FleetResource(string name, EndpointReference controllerEndpoint, ParameterResource adminToken) : Resource(name)
{
    /// <summary>The controller's HTTP endpoint; resolved once the controller runs.</summary>
    public EndpointReference ControllerEndpoint { get; } = controllerEndpoint;

    /// <summary>The bearer token of the controller's admin API.</summary>
    public ParameterResource AdminToken { get; } = adminToken;
}
