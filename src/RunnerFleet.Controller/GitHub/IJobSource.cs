namespace RunnerFleet.Controller.GitHub;

/// <summary>A source of workflow-job observations that is asked (polled); webhooks push through <see cref="WebhookJobSource"/>.</summary>
public interface IJobSource
{
    string Name { get; }

    /// <summary>Fetches what changed and hands it to the ingestor. Returns how many jobs it saw.</summary>
    Task<int> PollAsync(CancellationToken ct);
}
