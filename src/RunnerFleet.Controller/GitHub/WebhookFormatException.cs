namespace RunnerFleet.Controller.GitHub;

/// <summary>A webhook body that is not a usable <c>workflow_job</c> event.</summary>
internal sealed class WebhookFormatException(string message) : Exception(message);
