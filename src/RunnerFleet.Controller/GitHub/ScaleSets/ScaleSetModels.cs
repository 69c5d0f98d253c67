using System.Text.Json.Serialization;

namespace RunnerFleet.Controller.GitHub.ScaleSets;

// The Actions service's shapes for runner scale sets (actions/scaleset types.go, client.go), only what RunnerFleet reads.

internal sealed record ActionsRegistration(string Url, string Token)
{
    public override string ToString() => $"ActionsRegistration {{ Url = {Url}, Token = *** }}";
}

internal sealed record ActionsList<T>(int Count, IReadOnlyList<T> Value);

internal sealed record RunnerGroup(long Id, string Name, bool IsDefaultGroup);

internal sealed record ScaleSetLabel(string Type, string Name);

internal sealed record ScaleSet(long Id, string Name, long RunnerGroupId, IReadOnlyList<ScaleSetLabel>? Labels);

internal sealed record ScaleSetCreate(string Name, long RunnerGroupId, IReadOnlyList<ScaleSetLabel> Labels, ScaleSetSetting RunnerSetting);

internal sealed record ScaleSetSetting(bool Ephemeral, bool DisableUpdate);

internal sealed record SessionCreate(string OwnerName);

internal sealed record ScaleSetSession(string SessionId, string OwnerName, string MessageQueueUrl, string MessageQueueAccessToken, ScaleSet? RunnerScaleSet, ScaleSetStatistics? Statistics = null)
{
    public override string ToString() => $"ScaleSetSession {{ SessionId = {SessionId}, OwnerName = {OwnerName}, MessageQueueUrl = {MessageQueueUrl}, MessageQueueAccessToken = *** }}";
}

internal sealed record ScaleSetStatistics(int TotalAvailableJobs, int TotalAcquiredJobs, int TotalAssignedJobs, int TotalRunningJobs, int TotalRegisteredRunners, int TotalBusyRunners, int TotalIdleRunners);

internal sealed record ScaleSetMessage(long MessageId, string MessageType, string? Body, ScaleSetStatistics? Statistics);

/// <summary>
/// One job event of a message body: JobAvailable, JobAssigned, JobStarted, JobCompleted (actions/scaleset
/// <c>types.go</c>). <see cref="JobId"/> identifies the job; <see cref="RunnerRequestId"/> is 0 on github.com
/// and only matters for <c>acquirejobs</c>.
/// </summary>
internal sealed record ScaleSetJobEvent(
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
    string? Result,
    DateTimeOffset? RunnerAssignTime = null,
    DateTimeOffset? FinishTime = null);

internal sealed record ScaleSetJitRequest(string Name, string WorkFolder);

internal sealed record ScaleSetJitRunner(long Id, string Name, long RunnerScaleSetId);

internal sealed record ScaleSetJitConfig(ScaleSetJitRunner Runner, [property: JsonPropertyName("encodedJITConfig")] string EncodedJitConfig)
{
    public override string ToString() => $"ScaleSetJitConfig {{ Runner = {Runner.Name} ({Runner.Id}), EncodedJitConfig = *** }}";
}

internal sealed record ActionsError(string? Message, string? TypeName, string? TypeKey);

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
[JsonSerializable(typeof(IReadOnlyList<long>))]
[JsonSerializable(typeof(ActionsList<long>))]
[JsonSerializable(typeof(RegistrationRequest))]
internal sealed partial class ScaleSetJsonContext : JsonSerializerContext;

/// <summary>The body of <c>POST /actions/runner-registration</c> (snake case on the wire).</summary>
internal sealed record RegistrationRequest([property: JsonPropertyName("url")] string Url, [property: JsonPropertyName("runner_event")] string RunnerEvent);
