using System.Security.Cryptography;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>
/// The state of a simulated GitHub: repositories, workflow runs and jobs, self-hosted runners, tokens,
/// rate limits and webhooks. HTTP is mapped onto it by <see cref="GitHubSimulatorEndpoints"/>; all
/// methods are thread-safe behind one lock, which is plenty for a simulator.
/// This file holds the shared state; the methods are in one partial file per API area (GitHubSimulator.*.cs).
/// </summary>
public sealed partial class GitHubSimulator
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly Dictionary<string, SimRepository> _repos = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<long, SimWorkflowRun> _runs = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, List<string>> _defaultBranchCommits = new(StringComparer.Ordinal);
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

    private long _writeRequests;

    /// <summary>REST requests that write (POST, PUT, PATCH, DELETE): what GitHub's secondary limits weigh 5 points each.</summary>
    public long WriteRequests => Interlocked.Read(ref _writeRequests);

    internal void CountWrite() => Interlocked.Increment(ref _writeRequests);

    internal TimeProvider Time => _time;

    private Random? _latencyRandom;

    /// <summary>One delay from the configured latency, from one seeded stream (drawn under the lock: Random is not thread-safe).</summary>
    internal TimeSpan DrawLatency(GitHubLatency latency, string method)
    {
        lock (_gate)
        {
            _latencyRandom ??= new Random(latency.Seed);
            return latency.Draw(method, _latencyRandom);
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

    // ---------------------------------------------------------------- helpers

    private void SignalLocked()
    {
        AssignScaleSetJobsLocked();
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }

    private static string RandomToken(int length)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return RandomNumberGenerator.GetString(alphabet, length);
    }
}
