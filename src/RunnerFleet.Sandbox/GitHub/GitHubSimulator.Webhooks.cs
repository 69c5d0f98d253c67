namespace RunnerFleet.Sandbox.GitHub;

/// <summary>Webhooks: the URLs that <c>workflow_job</c> events are delivered to.</summary>
public sealed partial class GitHubSimulator
{
    // ---------------------------------------------------------------- webhooks

    public void AddWebhook(Uri url, string? secret)
    {
        lock (_gate)
        {
            _webhooks.Add(new WebhookTarget(url, secret));
        }
    }

    public IReadOnlyList<WebhookTarget> WebhookTargets()
    {
        lock (_gate)
        {
            return [.. _webhooks];
        }
    }
}

/// <summary>A URL the simulator POSTs <c>workflow_job</c> events to.</summary>
public sealed record WebhookTarget(Uri Url, string? Secret);
