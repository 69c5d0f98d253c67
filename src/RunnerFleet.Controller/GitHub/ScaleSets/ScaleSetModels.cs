using System.Text.Json.Serialization;

namespace RunnerFleet.Controller.GitHub.ScaleSets;

// The Actions service's shapes for runner scale sets (shared/reference/github-scaleset-facts.md), only what RunnerFleet reads.

public sealed record ActionsRegistration(string Url, string Token);

public sealed record ActionsList<T>(int Count, IReadOnlyList<T> Value);

public sealed record RunnerGroup(long Id, string Name, bool IsDefaultGroup);

public sealed record ScaleSetLabel(string Type, string Name);

public sealed record ScaleSet(long Id, string Name, long RunnerGroupId, IReadOnlyList<ScaleSetLabel>? Labels);

public sealed record ScaleSetCreate(string Name, long RunnerGroupId, IReadOnlyList<ScaleSetLabel> Labels, ScaleSetSetting RunnerSetting);

public sealed record ScaleSetSetting(bool Ephemeral, bool DisableUpdate);

public sealed record SessionCreate(string OwnerName);

public sealed record ScaleSetSession(string SessionId, string OwnerName, string MessageQueueUrl, string MessageQueueAccessToken, ScaleSet? RunnerScaleSet);

public sealed record ScaleSetStatistics(int TotalAvailableJobs, int TotalAcquiredJobs, int TotalAssignedJobs, int TotalRunningJobs, int TotalRegisteredRunners, int TotalBusyRunners, int TotalIdleRunners);

public sealed record ScaleSetMessage(long MessageId, string MessageType, string? Body, ScaleSetStatistics? Statistics);

/// <summary>One job event of a message body: JobAssigned, JobStarted, JobCompleted (or JobAvailable).</summary>
public sealed record ScaleSetJobEvent(
    string MessageType,
    long RunnerRequestId,
    string? RepositoryName,
    string? OwnerName,
    string? JobId,
    string? JobDisplayName,
    long WorkflowRunId,
    string? EventName,
    IReadOnlyList<string>? RequestLabels,
    DateTimeOffset? QueueTime,
    long? RunnerId,
    string? RunnerName,
    string? Result);

public sealed record ScaleSetJitRequest(string Name, string WorkFolder);

public sealed record ScaleSetJitRunner(long Id, string Name, long RunnerScaleSetId);

public sealed record ScaleSetJitConfig(ScaleSetJitRunner Runner, [property: JsonPropertyName("encodedJITConfig")] string EncodedJitConfig);

public sealed record ActionsError(string? Message, string? TypeName, string? TypeKey);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(ActionsRegistration))]
[JsonSerializable(typeof(ActionsList<RunnerGroup>))]
[JsonSerializable(typeof(ActionsList<ScaleSet>))]
[JsonSerializable(typeof(ScaleSet))]
[JsonSerializable(typeof(ScaleSetCreate))]
[JsonSerializable(typeof(SessionCreate))]
[JsonSerializable(typeof(ScaleSetSession))]
[JsonSerializable(typeof(ScaleSetMessage))]
[JsonSerializable(typeof(IReadOnlyList<ScaleSetJobEvent>))]
[JsonSerializable(typeof(ScaleSetJitRequest))]
[JsonSerializable(typeof(ScaleSetJitConfig))]
[JsonSerializable(typeof(ActionsError))]
[JsonSerializable(typeof(RegistrationRequest))]
internal sealed partial class ScaleSetJsonContext : JsonSerializerContext;

/// <summary>The body of <c>POST /actions/runner-registration</c> (snake case on the wire).</summary>
public sealed record RegistrationRequest([property: JsonPropertyName("url")] string Url, [property: JsonPropertyName("runner_event")] string RunnerEvent);
