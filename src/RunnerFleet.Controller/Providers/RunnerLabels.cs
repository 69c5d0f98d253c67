namespace RunnerFleet.Controller.Providers;

/// <summary>The labels every provider resource carries.</summary>
internal static class RunnerLabels
{
    public const string Fleet = "runnerfleet.fleet";
    public const string Pool = "runnerfleet.pool";
    public const string Runner = "runnerfleet.runner";
}
