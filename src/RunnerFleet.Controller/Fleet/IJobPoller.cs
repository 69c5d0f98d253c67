namespace RunnerFleet.Controller.Fleet;

/// <summary>A job source that is asked (polled) on the poll loop's interval; webhooks and long polls push instead.</summary>
internal interface IJobPoller
{
    /// <summary>Fetches what changed and hands it on. Returns how many jobs it saw.</summary>
    Task<int> PollAsync(CancellationToken ct);
}
