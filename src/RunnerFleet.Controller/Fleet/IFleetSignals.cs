namespace RunnerFleet.Controller.Fleet;

/// <summary>Push signals that make the loops run now instead of at their next tick.</summary>
internal interface IFleetSignals
{
    /// <summary>New demand arrived: plan and provision at once.</summary>
    void DemandChanged();

    /// <summary>A runner's resource stopped (container exit): tear it down at once.</summary>
    void RunnerExited(string runnerName);
}
