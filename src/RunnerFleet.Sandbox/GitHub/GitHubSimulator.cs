using System.Security.Cryptography;
using System.Text;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>
/// The state of a simulated GitHub: repositories, workflow runs and jobs, self-hosted runners, tokens,
/// rate limits and webhooks. HTTP is mapped onto it by <see cref="GitHubSimulatorEndpoints"/>; all
/// methods are thread-safe behind one lock, which is plenty for a simulator.
/// </summary>
public sealed partial class GitHubSimulator
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly Dictionary<string, SimRepository> _repos = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<long, SimWorkflowRun> _runs = [];
    private readonly Dictionary<long, SimJob> _jobs = [];
    private readonly Dictionary<long, SimRunner> _runners = [];
    private readonly Dictionary<string, DateTimeOffset> _registrationTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _installationTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RateWindow> _rate = new(StringComparer.Ordinal);
    private readonly Dictionary<long, SimApp> _apps = [];
    private readonly List<SimFault> _faults = [];
    private readonly List<WebhookTarget> _webhooks = [];
    private readonly List<(string, string)> _registrations = [];
    private long _nextId = 1000;
    private long _nextRunnerId = 1;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public GitHubSimulator(GitHubSimulatorOptions options, TimeProvider time, WebhookDispatcher webhooks)
    {
        Options = options;
        _time = time;
        Webhooks = webhooks;
    }

    public GitHubSimulatorOptions Options { get; }

    internal WebhookDispatcher Webhooks { get; }

    /// <summary>Requests that counted against a rate limit.</summary>
    public long RateLimitedRequests { get; private set; }

    /// <summary>Conditional requests answered 304 (free).</summary>
    public long NotModifiedResponses { get; private set; }

    /// <summary>Installation tokens issued to GitHub Apps.</summary>
    public int InstallationTokensIssued { get; private set; }

    /// <summary>How each runner was registered, in order: (name, "jit" or "token").</summary>
    public IReadOnlyList<(string Name, string Mode)> Registrations
    {
        get
        {
            lock (_gate)
            {
                return [.. _registrations];
            }
        }
    }

    /// <summary>Total API requests (runner protocol and sandbox control excluded).</summary>
    public long ApiRequests { get; private set; }

    public DateTimeOffset Now => _time.GetUtcNow();

    // ---------------------------------------------------------------- repositories and jobs

    public SimRepository EnsureRepository(string fullName, bool isPrivate = false)
    {
        var (owner, name) = SplitRepository(fullName);
        lock (_gate)
        {
            if (!_repos.TryGetValue(fullName, out var repo))
            {
                repo = new SimRepository(++_nextId, owner, name, isPrivate);
                _repos[repo.FullName] = repo;
            }

            return repo;
        }
    }

    public SimRepository? FindRepository(string owner, string name)
    {
        lock (_gate)
        {
            return _repos.GetValueOrDefault($"{owner}/{name}");
        }
    }

    public IReadOnlyList<SimRepository> Repositories()
    {
        lock (_gate)
        {
            return [.. _repos.Values];
        }
    }

    /// <summary>Queues one workflow run with <paramref name="count"/> jobs, as a matrix would.</summary>
    /// <param name="event">The run's event (default push).</param>
    /// <param name="headRepository">A fork's full name when the run is a pull request from that fork.</param>
    public SimWorkflowRun QueueJobs(string repository, IReadOnlyList<string> labels, int count, TimeSpan duration, string? workflowName = null, string? @event = null, string? headRepository = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var repo = EnsureRepository(repository);
        List<SimJob> queued;
        SimWorkflowRun run;
        lock (_gate)
        {
            var now = Now;
            run = new SimWorkflowRun
            {
                Id = ++_nextId,
                Repository = repo,
                Name = workflowName ?? "CI",
                HeadSha = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)),
                Event = @event ?? "push",
                HeadRepository = headRepository,
                CreatedAt = now,
                UpdatedAt = now,
            };
            for (var i = 0; i < count; i++)
            {
                var job = new SimJob
                {
                    Id = ++_nextId,
                    Run = run,
                    Name = count == 1 ? "build" : $"build ({i + 1})",
                    Labels = [.. labels],
                    Duration = duration,
                    CreatedAt = now,
                };
                run.Jobs.Add(job);
                _jobs[job.Id] = job;
            }

            _runs[run.Id] = run;
            queued = [.. run.Jobs];
            SignalLocked();
        }

        foreach (var job in queued)
        {
            Webhooks.Enqueue(this, "queued", job);
        }

        return run;
    }

    public IReadOnlyList<SimWorkflowRun> Runs(SimRepository repo, string? status)
    {
        lock (_gate)
        {
            return [.. _runs.Values
                .Where(r => r.Repository == repo && (status is null || r.Status == status || r.Conclusion == status))
                .OrderByDescending(r => r.Id)];
        }
    }

    public SimWorkflowRun? Run(long id)
    {
        lock (_gate)
        {
            return _runs.GetValueOrDefault(id);
        }
    }

    public SimJob? Job(long id)
    {
        lock (_gate)
        {
            return _jobs.GetValueOrDefault(id);
        }
    }

    public IReadOnlyList<SimJob> AllJobs()
    {
        lock (_gate)
        {
            return [.. _jobs.Values.OrderBy(j => j.Id)];
        }
    }

    /// <summary>Takes a consistent copy of a run's state, for serialising outside the lock.</summary>
    public T Read<T>(Func<T> read)
    {
        lock (_gate)
        {
            return read();
        }
    }

    // ---------------------------------------------------------------- runners (REST side)

    public IReadOnlyList<SimRunner> Runners(string scope)
    {
        lock (_gate)
        {
            return [.. _runners.Values.Where(r => string.Equals(r.Scope, scope, StringComparison.OrdinalIgnoreCase)).OrderBy(r => r.Id)];
        }
    }

    public IReadOnlyList<SimRunner> AllRunners()
    {
        lock (_gate)
        {
            return [.. _runners.Values.OrderBy(r => r.Id)];
        }
    }

    public bool IsOnline(SimRunner runner) =>
        runner.SessionOpen && runner.LastSeen is { } seen && Now - seen < Options.OfflineAfter;

    public SimRunner? FindRunner(string scope, long id)
    {
        lock (_gate)
        {
            return _runners.TryGetValue(id, out var r) && string.Equals(r.Scope, scope, StringComparison.OrdinalIgnoreCase) ? r : null;
        }
    }

    public enum DeleteResult { Deleted, NotFound, Busy }

    public DeleteResult DeleteRunner(string scope, long id)
    {
        lock (_gate)
        {
            if (!_runners.TryGetValue(id, out var r) || !string.Equals(r.Scope, scope, StringComparison.OrdinalIgnoreCase))
            {
                return DeleteResult.NotFound;
            }

            if (r.Busy)
            {
                return DeleteResult.Busy;
            }

            _runners.Remove(id);
            SignalLocked();
            return DeleteResult.Deleted;
        }
    }

    public enum JitResult { Created, Conflict, Invalid }

    /// <summary>Registers a runner for a JIT config. The blob carries the runner's credential, so it is a secret.</summary>
    public (JitResult Result, SimRunner? Runner, string? Message) RegisterJitRunner(string scope, string? name, long? groupId, IReadOnlyList<string>? labels)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return (JitResult.Invalid, null, "Invalid request.\n\nNo subschema in \"oneOf\" matched; missing required key: name");
        }

        if (groupId is null)
        {
            return (JitResult.Invalid, null, "Invalid request.\n\nmissing required key: runner_group_id");
        }

        if (labels is null || labels.Count is < 1 or > 100 || labels.Any(string.IsNullOrWhiteSpace))
        {
            return (JitResult.Invalid, null, "Invalid request.\n\nlabels must hold 1 to 100 non-empty names");
        }

        lock (_gate)
        {
            if (_runners.Values.Any(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase) && string.Equals(r.Scope, scope, StringComparison.OrdinalIgnoreCase)))
            {
                return (JitResult.Conflict, null, "Already exists - A runner with the same name already exists.");
            }

            var runner = NewRunnerLocked(scope, name, labels, ephemeral: true, groupId.Value);
            _registrations.Add((name, "jit"));
            return (JitResult.Created, runner, null);
        }
    }

    public string EncodeJitConfig(SimRunner runner, string baseUrl) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(
            $"url={Options.RunnerBaseUrl ?? baseUrl}\nrunner_id={runner.Id}\nname={runner.Name}\ncredential={runner.Credential}\n"));

    public (string Token, DateTimeOffset ExpiresAt) CreateRegistrationToken()
    {
        var token = RandomToken(29);
        var expires = Now.AddHours(1);
        lock (_gate)
        {
            _registrationTokens[token] = expires;
        }

        return (token, expires);
    }

    // ---------------------------------------------------------------- runner protocol (the runner's side)

    /// <summary>What <c>config.sh --token</c> does: trade a registration token for a runner credential.</summary>
    public (SimRunner? Runner, int Status, string? Error) ConfigureRunner(string token, string scope, string name, IReadOnlyList<string> labels, bool ephemeral, bool defaultLabels = true)
    {
        lock (_gate)
        {
            if (!_registrationTokens.TryGetValue(token, out var expires) || expires < Now)
            {
                return (null, 401, "registration token invalid or expired");
            }

            if (string.IsNullOrWhiteSpace(name) || labels.Count == 0)
            {
                return (null, 422, "name and labels are required");
            }

            if (_runners.Values.Any(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase) && string.Equals(r.Scope, scope, StringComparison.OrdinalIgnoreCase)))
            {
                return (null, 409, "a runner with the same name already exists");
            }

            // config.sh adds the default labels unless --no-default-labels.
            var all = defaultLabels ? new List<string> { "self-hosted", "linux", "x64" } : [];
            all.AddRange(labels.Where(l => !all.Contains(l, StringComparer.OrdinalIgnoreCase)));
            _registrations.Add((name, "token"));
            return (NewRunnerLocked(scope, name, all, ephemeral, 1), 201, null);
        }
    }

    public SimRunner? Authenticate(long runnerId, string? credential)
    {
        lock (_gate)
        {
            return _runners.TryGetValue(runnerId, out var r) && credential is not null &&
                   CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(r.Credential), Encoding.UTF8.GetBytes(credential))
                ? r
                : null;
        }
    }

    public void OpenSession(SimRunner runner)
    {
        lock (_gate)
        {
            runner.SessionOpen = true;
            runner.LastSeen = Now;
            SignalLocked();
        }
    }

    public void CloseSession(SimRunner runner)
    {
        lock (_gate)
        {
            runner.SessionOpen = false;
            SignalLocked();
        }
    }

    /// <summary>
    /// The runner asks for work. GitHub hands a queued job only to an online, idle runner whose labels
    /// contain all the job's labels, oldest job first, one job per ephemeral runner.
    /// </summary>
    public async Task<SimJob?> AcquireJobAsync(SimRunner runner, TimeSpan wait, CancellationToken ct)
    {
        var deadline = Now + wait;
        while (true)
        {
            Task changed;
            SimJob? job = null;
            lock (_gate)
            {
                if (!_runners.ContainsKey(runner.Id))
                {
                    return null;
                }

                runner.LastSeen = Now;
                runner.SessionOpen = true;
                if (runner.Job is { } current && !runner.JobDone)
                {
                    return current;
                }

                if (runner.Job is null || !runner.Ephemeral)
                {
                    job = _jobs.Values
                        .Where(j => j.Status == "queued" && InScope(runner, j) && LabelsMatch(runner.Labels, j.Labels))
                        .OrderBy(j => j.Id)
                        .FirstOrDefault();
                }

                if (job is not null)
                {
                    var now = Now;
                    job.Status = "in_progress";
                    job.StartedAt = now;
                    job.RunnerId = runner.Id;
                    job.RunnerName = runner.Name;
                    job.Assignments++;
                    job.Run.StartedAt ??= now;
                    job.Run.UpdatedAt = now;
                    runner.Job = job;
                    runner.JobDone = false;
                    ScaleSetJobEventLocked("JobStarted", job, runner);
                    SignalLocked();
                }

                changed = _changed.Task;
            }

            if (job is not null)
            {
                Webhooks.Enqueue(this, "in_progress", job);
                return job;
            }

            var left = deadline - Now;
            if (left <= TimeSpan.Zero)
            {
                return null;
            }

            try
            {
                await changed.WaitAsync(left, _time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }
    }

    /// <summary>Cancels a run: its unfinished jobs complete as cancelled and their runners are released. False when it had finished.</summary>
    public bool CancelRun(SimWorkflowRun run)
    {
        List<SimJob> cancelled;
        lock (_gate)
        {
            if (run.Status == "completed")
            {
                return false;
            }

            var now = Now;
            cancelled = [.. run.Jobs.Where(j => j.Status != "completed")];
            foreach (var job in cancelled)
            {
                job.Status = "completed";
                job.Conclusion = "cancelled";
                job.CompletedAt = now;
                if (job.RunnerId is { } id && _runners.TryGetValue(id, out var runner) && runner.Job == job)
                {
                    // The runner is told to stop; an ephemeral one is de-registered as after any job.
                    runner.JobDone = true;
                    if (runner.Ephemeral)
                    {
                        _runners.Remove(id);
                    }
                }
            }

            run.UpdatedAt = now;
            SignalLocked();
        }

        foreach (var job in cancelled)
        {
            Webhooks.Enqueue(this, "completed", job);
        }

        return true;
    }

    public bool CompleteJob(SimRunner runner, long jobId, string conclusion, string? machine = null)
    {
        SimJob job;
        lock (_gate)
        {
            if (runner.Job is not { } current || current.Id != jobId || runner.JobDone)
            {
                return false;
            }

            job = current;
            var now = Now;
            job.Status = "completed";
            job.Conclusion = conclusion is "success" or "failure" or "cancelled" ? conclusion : "success";
            job.CompletedAt = now;
            job.RunnerMachine = machine;
            job.Run.UpdatedAt = now;
            ScaleSetJobEventLocked("JobCompleted", job, runner);
            runner.JobDone = true;
            if (runner.Ephemeral)
            {
                // GitHub de-registers an ephemeral runner after its one job.
                _runners.Remove(runner.Id);
            }

            SignalLocked();
        }

        Webhooks.Enqueue(this, "completed", job);
        return true;
    }

    // ---------------------------------------------------------------- auth and rate limits

    public void AddToken(string token)
    {
        lock (_gate)
        {
            if (!Options.Tokens.Contains(token))
            {
                Options.Tokens.Add(token);
            }
        }
    }

    public void RegisterApp(long appId, long installationId, string publicKeyPem)
    {
        var rsa = System.Security.Cryptography.RSA.Create();
        rsa.ImportFromPem(publicKeyPem);
        lock (_gate)
        {
            _apps[appId] = new SimApp(appId, installationId, rsa);
        }
    }

    /// <summary>Checks a GitHub App JWT (RS256, iat/exp window, iss = app id).</summary>
    public (long? AppId, string? Error) VerifyAppJwt(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            return (null, "A JSON web token could not be decoded");
        }

        try
        {
            using var header = System.Text.Json.JsonDocument.Parse(Base64Url(parts[0]));
            using var payload = System.Text.Json.JsonDocument.Parse(Base64Url(parts[1]));
            if (header.RootElement.GetProperty("alg").GetString() != "RS256")
            {
                return (null, "'alg' must be RS256");
            }

            var iss = payload.RootElement.GetProperty("iss");
            var appId = iss.ValueKind == System.Text.Json.JsonValueKind.Number ? iss.GetInt64() : long.Parse(iss.GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            var iat = DateTimeOffset.FromUnixTimeSeconds(payload.RootElement.GetProperty("iat").GetInt64());
            var exp = DateTimeOffset.FromUnixTimeSeconds(payload.RootElement.GetProperty("exp").GetInt64());
            SimApp? app;
            lock (_gate)
            {
                app = _apps.GetValueOrDefault(appId);
            }

            if (app is null)
            {
                return (null, "Integration not found");
            }

            var signed = Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}");
            if (!app.Key.VerifyData(signed, Base64Url(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
            {
                return (null, "A JSON web token could not be decoded");
            }

            var now = Now;
            if (exp < now || iat > now.AddSeconds(60) || exp - iat > TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(60))
            {
                return (null, "'Expiration time' claim ('exp') is too far in the future, or the token has expired");
            }

            return (appId, null);
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return (null, "A JSON web token could not be decoded");
        }
    }

    public (string Token, DateTimeOffset ExpiresAt)? CreateInstallationToken(long appId, long installationId)
    {
        lock (_gate)
        {
            if (!_apps.TryGetValue(appId, out var app) || app.InstallationId != installationId)
            {
                return null;
            }

            var token = "ghs_" + RandomToken(36);
            var expires = Now.AddHours(1);
            _installationTokens[token] = expires;
            InstallationTokensIssued++;
            return (token, expires);
        }
    }

    public bool IsValidToken(string token)
    {
        lock (_gate)
        {
            return Options.Tokens.Contains(token) || (_installationTokens.TryGetValue(token, out var exp) && exp > Now);
        }
    }

    /// <summary>Counts a request against the token's hourly window and returns the window's state after it.</summary>
    public RateState Charge(string token, bool charge)
    {
        lock (_gate)
        {
            ApiRequests++;
            var now = Now;
            if (!_rate.TryGetValue(token, out var w) || w.Reset <= now)
            {
                w = new RateWindow { Reset = now.AddHours(1) };
                _rate[token] = w;
            }

            if (charge && w.Used < Options.RateLimitPerHour)
            {
                w.Used++;
                RateLimitedRequests++;
            }
            else if (!charge)
            {
                NotModifiedResponses++;
            }

            return new RateState(Options.RateLimitPerHour, Options.RateLimitPerHour - w.Used, w.Used, w.Reset);
        }
    }

    public RateState PeekRate(string token)
    {
        lock (_gate)
        {
            var now = Now;
            return _rate.TryGetValue(token, out var w) && w.Reset > now
                ? new RateState(Options.RateLimitPerHour, Options.RateLimitPerHour - w.Used, w.Used, w.Reset)
                : new RateState(Options.RateLimitPerHour, Options.RateLimitPerHour, 0, now.AddHours(1));
        }
    }

    public void ExhaustRateLimit(string token)
    {
        lock (_gate)
        {
            Charge(token, true);
            _rate[token].Used = Options.RateLimitPerHour;
        }
    }

    public void AddFault(SimFault fault)
    {
        lock (_gate)
        {
            _faults.Add(fault);
        }
    }

    public SimFault? TakeFault(string method, string path)
    {
        lock (_gate)
        {
            var fault = _faults.FirstOrDefault(f => f.Count > 0 && path.StartsWith(f.PathPrefix, StringComparison.OrdinalIgnoreCase)
                && (f.Method is null || string.Equals(f.Method, method, StringComparison.OrdinalIgnoreCase)));
            if (fault is not null && --fault.Count == 0)
            {
                _faults.Remove(fault);
            }

            return fault;
        }
    }

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

    // ---------------------------------------------------------------- helpers

    public static bool LabelsMatch(IReadOnlyList<string> runnerLabels, IReadOnlyList<string> jobLabels) =>
        jobLabels.All(l => runnerLabels.Contains(l, StringComparer.OrdinalIgnoreCase));

    private static bool InScope(SimRunner runner, SimJob job) =>
        string.Equals(runner.Scope, job.Run.Repository.FullName, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(runner.Scope, job.Run.Repository.Owner, StringComparison.OrdinalIgnoreCase);

    private SimRunner NewRunnerLocked(string scope, string name, IReadOnlyList<string> labels, bool ephemeral, long groupId)
    {
        var runner = new SimRunner
        {
            Id = _nextRunnerId++,
            Name = name,
            Scope = scope,
            Labels = [.. labels],
            Ephemeral = ephemeral,
            Credential = RandomToken(32),
            RunnerGroupId = groupId,
            RegisteredAt = Now,
        };
        _runners[runner.Id] = runner;
        SignalLocked();
        return runner;
    }

    private void SignalLocked()
    {
        AssignScaleSetJobsLocked();
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }

    private static (string Owner, string Name) SplitRepository(string fullName)
    {
        var parts = fullName.Split('/');
        if (parts.Length != 2 || parts.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException($"'{fullName}' is not of the form owner/repo.", nameof(fullName));
        }

        return (parts[0], parts[1]);
    }

    private static string RandomToken(int length)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return RandomNumberGenerator.GetString(alphabet, length);
    }

    private static byte[] Base64Url(string s)
    {
        var padded = s.Replace('-', '+').Replace('_', '/');
        padded += (padded.Length % 4) switch { 2 => "==", 3 => "=", _ => string.Empty };
        return Convert.FromBase64String(padded);
    }

    private sealed class RateWindow
    {
        public DateTimeOffset Reset { get; init; }
        public int Used { get; set; }
    }

    private sealed record SimApp(long AppId, long InstallationId, System.Security.Cryptography.RSA Key);
}

/// <summary>The primary rate limit window of one token.</summary>
public readonly record struct RateState(int Limit, int Remaining, int Used, DateTimeOffset Reset);

/// <summary>A URL the simulator POSTs <c>workflow_job</c> events to.</summary>
public sealed record WebhookTarget(Uri Url, string? Secret);
