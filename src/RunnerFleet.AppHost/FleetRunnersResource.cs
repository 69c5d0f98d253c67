namespace RunnerFleet.AppHost;

/// <summary>
/// The fleet's runners on the dashboard: each live runner is an instance of this resource (its row is named
/// after the runner and sits under the fleet), published while the runner lives and hidden after teardown.
/// </summary>
public sealed class FleetRunnersResource(string name) : Resource(name);
