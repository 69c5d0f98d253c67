using System.Text.Json;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.GitHub;

/// <summary>Turns GitHub's job shapes (REST and webhook) into the core's <see cref="JobRecord"/>.</summary>
internal static class WorkflowJobMapper
{
    /// <summary>Maps a GitHub job status; null for states that are not demand yet (waiting, pending, requested).</summary>
    public static JobStatus? Status(string? status) => status switch
    {
        "queued" => JobStatus.Queued,
        "in_progress" => JobStatus.InProgress,
        "completed" => JobStatus.Completed,
        _ => null,
    };

    public static JobRecord? ToRecord(WorkflowJob job, string repository)
    {
        if (Status(job.Status) is not { } status)
        {
            return null;
        }

        return new JobRecord
        {
            Id = job.Id,
            RunId = job.RunId,
            Repository = repository,
            Name = job.Name,
            Labels = job.EffectiveLabels,
            Status = status,
            RunnerName = string.IsNullOrEmpty(job.RunnerName) ? null : job.RunnerName,
            Conclusion = job.Conclusion,
            QueuedAt = job.CreatedAt,
            StartedAt = status == JobStatus.Queued ? null : job.StartedAt,
            CompletedAt = job.CompletedAt,
        };
    }

    /// <summary>Parses a <c>workflow_job</c> webhook body. Throws <see cref="WebhookFormatException"/> when it is not one.</summary>
    public static WorkflowJobEvent ParseWebhook(ReadOnlySpan<byte> body)
    {
        WorkflowJobEvent? e;
        try
        {
            e = JsonSerializer.Deserialize(body, GitHubJsonContext.Default.WorkflowJobEvent);
        }
        catch (JsonException ex)
        {
            throw new WebhookFormatException($"body is not valid JSON: {ex.Message}");
        }

        if (e?.WorkflowJob is null || e.Repository?.FullName is null || e.Action is null)
        {
            throw new WebhookFormatException("body lacks action, workflow_job or repository.full_name");
        }

        if (e.WorkflowJob.Id <= 0)
        {
            throw new WebhookFormatException("workflow_job.id is missing");
        }

        return e;
    }
}
