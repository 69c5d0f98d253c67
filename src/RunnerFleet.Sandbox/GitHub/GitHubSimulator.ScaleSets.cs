using System.Globalization;
using System.Text.Json.Nodes;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>
/// The runner scale-set side of GitHub, as actions/scaleset (client.go, session_client.go, types.go,
/// listener/listener.go) and actions-runner-controller speak to it: admin tokens from a registration token,
/// runner groups, scale sets, one message session per scale set, a message queue of job events with
/// statistics, <c>acquirejobs</c>, scale-set JIT configs. A queued job whose labels are exactly a scale set's
/// name (in the scale set's repository or organization) is assigned to it (on GHES: offered as available,
/// assigned once acquired); when no runner takes it in time it is cancelled and assigned again, up to three
/// times, keeping its <c>jobId</c>. Stricter than GitHub where GitHub leaves room: a body holds at most 50
/// events and a larger backlog is truncated (scaleset README: "Responses contain at most 50 messages. Large
/// backlogs will be truncated."), so only the statistics tell the whole truth.
/// </summary>
public sealed partial class GitHubSimulator
{
    private const int MaxAssignments = 3;

    /// <summary>actions/scaleset README: "Responses contain at most 50 messages."</summary>
    public const int MaxMessagesPerBody = 50;

    /// <summary>Job events dropped because a backlog was larger than one body (tests show the controller copes).</summary>
    public int TruncatedEvents { get; private set; }
    private readonly Dictionary<long, SimScaleSet> _scaleSets = [];
    private readonly Dictionary<string, (string Scope, DateTimeOffset Expires)> _adminTokens = new(StringComparer.Ordinal);
    private long _nextScaleSetId;

    public static readonly SimRunnerGroup DefaultGroup = new(1, "Default", true);

    /// <summary>Trades a registration token for an admin token of the Actions service. Null when the token is not valid.</summary>
    public (string Token, DateTimeOffset Expires)? RegisterActionsService(string registrationToken, string scope)
    {
        lock (_gate)
        {
            if (!_registrationTokens.TryGetValue(registrationToken, out var expires) || expires <= Now)
            {
                return null;
            }

            // Shaped as the service's JWT: listeners read its exp to refresh it in time.
            var until = Now + Options.ScaleSetTokenLifetime;
            var token = $"{ToBase64Url("{\"alg\":\"RS256\",\"typ\":\"JWT\"}")}.{ToBase64Url($"{{\"scp\":\"{scope}\",\"exp\":{until.ToUnixTimeSeconds()}}}")}.{RandomToken(43)}";
            _adminTokens[token] = (scope, until);
            return (token, until);
        }
    }

    /// <summary>The scope an admin token acts for; null when unknown or expired.</summary>
    public string? AdminScope(string token)
    {
        lock (_gate)
        {
            return _adminTokens.TryGetValue(token, out var t) && t.Expires > Now ? t.Scope : null;
        }
    }

    public IReadOnlyList<SimScaleSet> ScaleSets(string scope, long? groupId, string? name)
    {
        lock (_gate)
        {
            return [.. _scaleSets.Values.Where(s => string.Equals(s.Scope, scope, StringComparison.OrdinalIgnoreCase)
                && (groupId is null || s.RunnerGroupId == groupId) && (name is null || string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)))];
        }
    }

    public SimScaleSet? ScaleSet(string scope, long id)
    {
        lock (_gate)
        {
            return _scaleSets.TryGetValue(id, out var s) && string.Equals(s.Scope, scope, StringComparison.OrdinalIgnoreCase) ? s : null;
        }
    }

    /// <summary>Creates a scale set; null when the name is taken in that runner group.</summary>
    public SimScaleSet? CreateScaleSet(string scope, string name, long groupId, IReadOnlyList<string> labels)
    {
        lock (_gate)
        {
            if (_scaleSets.Values.Any(s => string.Equals(s.Scope, scope, StringComparison.OrdinalIgnoreCase) && s.RunnerGroupId == groupId && string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                return null;
            }

            var set = new SimScaleSet { Id = ++_nextScaleSetId, Name = name, Scope = scope, RunnerGroupId = groupId, Labels = labels.Count > 0 ? [.. labels] : [name], CreatedAt = Now };
            _scaleSets[set.Id] = set;
            SignalLocked();
            return set;
        }
    }

    public bool DeleteScaleSet(string scope, long id)
    {
        lock (_gate)
        {
            return ScaleSetLocked(scope, id) is { } set && _scaleSets.Remove(set.Id);
        }
    }

    /// <summary>Opens the scale set's one message session; null when another is open (GitHub answers 409).</summary>
    public SimScaleSetSession? OpenSession(SimScaleSet set, string owner)
    {
        lock (_gate)
        {
            if (set.Session is { } open && open.LastPoll + Options.ScaleSetSessionTimeout > Now)
            {
                return null;
            }

            set.Session = new SimScaleSetSession { Id = Guid.NewGuid(), Owner = owner, QueueToken = RandomToken(40), QueueTokenExpires = Now + Options.ScaleSetTokenLifetime, LastPoll = Now };
            return set.Session;
        }
    }

    /// <summary>A new message-queue token for the session (the listener's answer to a 401).</summary>
    public SimScaleSetSession? RefreshSession(SimScaleSet set, Guid sessionId)
    {
        lock (_gate)
        {
            if (set.Session is not { } session || session.Id != sessionId)
            {
                return null;
            }

            session.QueueToken = RandomToken(40);
            session.QueueTokenExpires = Now + Options.ScaleSetTokenLifetime;
            return session;
        }
    }

    public enum CloseOutcome { Closed, Expired, NotFound }

    /// <summary>Deletes a session: an open one is closed; one that timed out answers 400 expired; an unknown one 404.</summary>
    public CloseOutcome CloseSession(SimScaleSet set, Guid sessionId)
    {
        lock (_gate)
        {
            if (set.Session?.Id != sessionId)
            {
                return CloseOutcome.NotFound;
            }

            var expired = set.Session.LastPoll + Options.ScaleSetSessionTimeout <= Now;
            set.Session = null;
            return expired ? CloseOutcome.Expired : CloseOutcome.Closed;
        }
    }

    /// <summary>
    /// <c>acquirejobs</c>: the listener takes the available jobs it names (by runner request id) with its
    /// session's queue token; they are assigned to the scale set. Null when the token is not the session's or
    /// expired (the service answers 401; the listener refreshes its session).
    /// </summary>
    public IReadOnlyList<long>? AcquireJobs(SimScaleSet set, string queueToken, IReadOnlyList<long> requestIds)
    {
        lock (_gate)
        {
            if (set.Session is not { } session || session.QueueToken != queueToken || session.QueueTokenExpires <= Now)
            {
                return null;
            }

            var acquired = new List<long>();
            foreach (var job in _jobs.Values.Where(j => j.ScaleSetId == set.Id && j.Status == "queued" && !j.ScaleSetAcquired))
            {
                if (requestIds.Contains(RequestId(job)))
                {
                    acquired.Add(RequestId(job));
                    AssignLocked(set, job);
                }
            }

            SignalLocked();
            return acquired;
        }
    }

    /// <summary>Statistics of a scale set now (the session-create answer carries them too).</summary>
    public JsonObject Statistics(SimScaleSet set)
    {
        lock (_gate)
        {
            return StatisticsLocked(set);
        }
    }

    private int _dropPolls;

    /// <summary>The next <paramref name="count"/> message polls lose their connection (a dropped long poll, in tests).</summary>
    public void DropNextPolls(int count) => Interlocked.Add(ref _dropPolls, count);

    internal bool TakeDroppedPoll()
    {
        while (true)
        {
            var left = Volatile.Read(ref _dropPolls);
            if (left <= 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _dropPolls, left - 1, left) == left)
            {
                return true;
            }
        }
    }

    /// <summary>Ends every session's queue token now: the next poll answers 401 (token expiry, in tests).</summary>
    public void ExpireSessionTokens()
    {
        lock (_gate)
        {
            foreach (var s in _scaleSets.Values.Where(s => s.Session is not null))
            {
                s.Session!.QueueTokenExpires = Now;
            }
        }
    }

    public enum PollOutcome { Message, Empty, Unauthorized, NoSession }

    /// <summary>
    /// The listener's long poll: the next message after <paramref name="lastMessageId"/>, or after the poll
    /// wait an empty answer (202). Statistics come with both.
    /// </summary>
    public async Task<(PollOutcome Outcome, SimScaleSetMessage? Message, JsonObject Statistics)> PollMessagesAsync(SimScaleSet set, Guid sessionId, string queueToken, long lastMessageId, CancellationToken ct)
    {
        var deadline = Now + Options.ScaleSetPollWait;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (set.Session is not { } session || session.Id != sessionId)
                {
                    return (PollOutcome.NoSession, null, StatisticsLocked(set));
                }

                if (session.QueueToken != queueToken || session.QueueTokenExpires <= Now)
                {
                    return (PollOutcome.Unauthorized, null, StatisticsLocked(set));
                }

                session.LastPoll = Now;

                ReassignTimedOutLocked();
                if (set.Unacknowledged.FirstOrDefault(m => m.Id > lastMessageId) is { } waiting)
                {
                    return (PollOutcome.Message, waiting, StatisticsLocked(set));
                }

                if (set.Pending.Count == 0 && Options.Flavor == GitHubFlavor.EnterpriseServer)
                {
                    // A job stays available until it is acquired: one whose offer was lost (truncated) is offered again.
                    foreach (var job in _jobs.Values.Where(j => j.ScaleSetId == set.Id && j.Status == "queued" && !j.ScaleSetAcquired && j.ScaleSetOfferedAt + TimeSpan.FromSeconds(5) <= Now))
                    {
                        OfferLocked(set, job);
                    }
                }

                if (set.Pending.Count > 0)
                {
                    // At most 50 events a body; the rest of a larger backlog is dropped, never delivered later.
                    var batch = set.Pending.Take(MaxMessagesPerBody).ToList();
                    TruncatedEvents += Math.Max(0, set.Pending.Count - MaxMessagesPerBody);
                    set.Pending.Clear();
                    var message = new SimScaleSetMessage(++set.LastMessageId, new JsonArray([.. batch]).ToJsonString());
                    set.Unacknowledged.Add(message);
                    return (PollOutcome.Message, message, StatisticsLocked(set));
                }

                changed = _changed.Task;
            }

            var left = deadline - Now;
            if (left <= TimeSpan.Zero)
            {
                lock (_gate)
                {
                    return (PollOutcome.Empty, null, StatisticsLocked(set));
                }
            }

            try
            {
                await changed.WaitAsync(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), _time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Re-check: assignments time out without any other change.
            }
        }
    }

    /// <summary>Puts a message with this raw body on every scale set's queue (a body of a shape the listener does not expect, in tests).</summary>
    public void EnqueueRawScaleSetMessage(string body)
    {
        lock (_gate)
        {
            foreach (var set in _scaleSets.Values)
            {
                set.Unacknowledged.Add(new SimScaleSetMessage(++set.LastMessageId, body));
            }

            SignalLocked();
        }
    }

    public bool AcknowledgeMessage(SimScaleSet set, long messageId)
    {
        lock (_gate)
        {
            return set.Unacknowledged.RemoveAll(m => m.Id == messageId) > 0;
        }
    }

    /// <summary>Registers a runner of the scale set (ephemeral, the scale set's labels) for a JIT config.</summary>
    public (JitResult Result, SimRunner? Runner, string? Message) RegisterScaleSetRunner(SimScaleSet set, string? name)
    {
        var (result, runner, message) = RegisterJitRunner(set.Scope, name, set.RunnerGroupId, set.Labels);
        if (runner is not null)
        {
            lock (_gate)
            {
                runner.ScaleSetId = set.Id;
            }
        }

        return (result, runner, message);
    }

    public IReadOnlyList<SimRunner> ScaleSetRunners(string scope, string? name)
    {
        lock (_gate)
        {
            return [.. _runners.Values.Where(r => r.ScaleSetId is not null && string.Equals(r.Scope, scope, StringComparison.OrdinalIgnoreCase)
                && (name is null || string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)))];
        }
    }

    public IReadOnlyList<SimScaleSet> AllScaleSets()
    {
        lock (_gate)
        {
            return [.. _scaleSets.Values];
        }
    }

    private static string ToBase64Url(string text) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    // ---------------------------------------------------------------- inside the lock

    private SimScaleSet? ScaleSetLocked(string scope, long id) =>
        _scaleSets.TryGetValue(id, out var s) && string.Equals(s.Scope, scope, StringComparison.OrdinalIgnoreCase) ? s : null;

    /// <summary>Assigns queued jobs whose labels name a scale set to it (called on every change).</summary>
    private void AssignScaleSetJobsLocked()
    {
        if (_scaleSets.Count == 0)
        {
            return;
        }

        foreach (var job in _jobs.Values.Where(j => j.Status == "queued" && j.ScaleSetId is null))
        {
            var labels = job.Labels.Where(l => !string.Equals(l, "self-hosted", StringComparison.OrdinalIgnoreCase)).ToList();
            var set = labels.Count == 1
                ? _scaleSets.Values.FirstOrDefault(s => string.Equals(s.Name, labels[0], StringComparison.OrdinalIgnoreCase)
                    && (string.Equals(s.Scope, job.Run.Repository.FullName, StringComparison.OrdinalIgnoreCase) || string.Equals(s.Scope, job.Run.Repository.Owner, StringComparison.OrdinalIgnoreCase)))
                : null;
            if (set is not null)
            {
                if (Options.Flavor == GitHubFlavor.EnterpriseServer)
                {
                    OfferLocked(set, job);
                }
                else
                {
                    AssignLocked(set, job);
                }
            }
        }
    }

    /// <summary>GHES: the job is available to the scale set until its listener acquires it.</summary>
    private void OfferLocked(SimScaleSet set, SimJob job)
    {
        job.ScaleSetId = set.Id;
        job.ScaleSetOfferedAt = Now;
        var e = JobEvent("JobAvailable", job, null);
        e["acquireJobUrl"] = $"_apis/runtime/runnerscalesets/{set.Id}/acquirejobs";
        set.Pending.Add(e);
    }

    private void AssignLocked(SimScaleSet set, SimJob job)
    {
        job.ScaleSetId = set.Id;
        job.ScaleSetAcquired = true;
        job.ScaleSetAssignedAt = Now;
        job.ScaleSetAssignments++;
        set.Pending.Add(JobEvent("JobAssigned", job, null));
    }

    /// <summary>
    /// The runner request id: 0 on github.com since mid-2025 (garm PR #459: "It now includes a jobID and sets the
    /// runner request ID to 0"); GHES still sends one, and <c>acquirejobs</c> takes it. A new one per assignment.
    /// </summary>
    private long RequestId(SimJob job) => Options.Flavor == GitHubFlavor.GitHubCom ? 0 : (job.Id * 100) + job.ScaleSetAssignments;

    /// <summary>A job no runner acquired in time is cancelled and assigned again, three times at most.</summary>
    private void ReassignTimedOutLocked()
    {
        foreach (var job in _jobs.Values.Where(j => j.Status == "queued" && j.ScaleSetId is not null && j.ScaleSetAssignedAt + Options.ScaleSetAcquireTimeout <= Now))
        {
            if (!_scaleSets.TryGetValue(job.ScaleSetId!.Value, out var set))
            {
                job.ScaleSetId = null;
                continue;
            }

            var canceled = JobEvent("JobCompleted", job, null);
            canceled["result"] = "canceled";
            set.Pending.Add(canceled);
            if (job.ScaleSetAssignments < MaxAssignments)
            {
                AssignLocked(set, job);
            }
            else
            {
                job.ScaleSetAssignedAt = DateTimeOffset.MaxValue;
            }
        }
    }

    /// <summary>Job started or completed on a scale-set runner: the scale set's listener hears of it.</summary>
    private void ScaleSetJobEventLocked(string type, SimJob job, SimRunner runner)
    {
        if (runner.ScaleSetId is { } id && _scaleSets.TryGetValue(id, out var set))
        {
            var e = JobEvent(type, job, runner);
            if (type == "JobCompleted")
            {
                e["result"] = job.Conclusion switch { "success" => "succeeded", "cancelled" => "canceled", _ => "failed" };
            }

            set.Pending.Add(e);
        }
    }

    private JsonObject StatisticsLocked(SimScaleSet set)
    {
        // ARC PR #4430: acquired = held by the scale set but not yet on a runner; available = waiting to be acquired.
        var jobs = _jobs.Values.Where(j => j.ScaleSetId == set.Id && j.Status != "completed").ToList();
        var held = jobs.Where(j => j.ScaleSetAcquired || j.Status == "in_progress").ToList();
        var runners = _runners.Values.Where(r => r.ScaleSetId == set.Id).ToList();
        return new JsonObject
        {
            ["totalAvailableJobs"] = jobs.Count - held.Count,
            ["totalAcquiredJobs"] = held.Count(j => j.Status == "queued"),
            ["totalAssignedJobs"] = held.Count,
            ["totalRunningJobs"] = jobs.Count(j => j.Status == "in_progress"),
            ["totalRegisteredRunners"] = runners.Count,
            ["totalBusyRunners"] = runners.Count(r => r.Busy),
            ["totalIdleRunners"] = runners.Count(r => !r.Busy),
        };
    }

    private JsonObject JobEvent(string type, SimJob job, SimRunner? runner)
    {
        var e = new JsonObject
        {
            ["messageType"] = type,
            ["runnerRequestId"] = RequestId(job),
            ["repositoryName"] = job.Run.Repository.Name,
            ["ownerName"] = job.Run.Repository.Owner,
            // The job's identity, a string, the same across reassignments (actions/scaleset types.go JobID).
            ["jobId"] = $"sim-{job.Id.ToString(CultureInfo.InvariantCulture)}",
            ["jobWorkflowRef"] = $"{job.Run.Repository.FullName}/.github/workflows/ci.yml@refs/heads/main",
            ["jobDisplayName"] = job.Name,
            ["workflowRunId"] = job.Run.Id,
            ["eventName"] = job.Run.Event,
            ["requestLabels"] = new JsonArray([.. job.Labels.Select(l => (JsonNode)l)]),
            ["queueTime"] = job.CreatedAt.ToString("O", CultureInfo.InvariantCulture),
            ["scaleSetAssignTime"] = job.ScaleSetAssignedAt?.ToString("O", CultureInfo.InvariantCulture),
        };
        if (runner is not null)
        {
            e["runnerId"] = runner.Id;
            e["runnerName"] = runner.Name;
            e["runnerAssignTime"] = job.StartedAt?.ToString("O", CultureInfo.InvariantCulture);
        }

        if (job.CompletedAt is { } finished)
        {
            e["finishTime"] = finished.ToString("O", CultureInfo.InvariantCulture);
        }

        return e;
    }
}

/// <summary>A runner group (organizations have several; every scope has the default one, id 1).</summary>
public sealed record SimRunnerGroup(long Id, string Name, bool IsDefault);

/// <summary>A runner scale set: its name is the <c>runs-on</c> label its jobs ask for.</summary>
public sealed class SimScaleSet
{
    public required long Id { get; init; }
    public required string Name { get; set; }
    public required string Scope { get; init; }
    public required long RunnerGroupId { get; init; }
    public required List<string> Labels { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public SimScaleSetSession? Session { get; set; }
    public List<JsonObject> Pending { get; } = [];
    public List<SimScaleSetMessage> Unacknowledged { get; } = [];
    public long LastMessageId { get; set; }
}

public sealed class SimScaleSetSession
{
    public required Guid Id { get; init; }
    public required string Owner { get; init; }
    public required string QueueToken { get; set; }
    public required DateTimeOffset QueueTokenExpires { get; set; }

    /// <summary>When its listener last polled; a session silent for the session timeout is over.</summary>
    public DateTimeOffset LastPoll { get; set; }
}

/// <summary>One message of a scale set's queue: a JSON array of job events, as a string (as GitHub sends it).</summary>
public sealed record SimScaleSetMessage(long Id, string Body);
