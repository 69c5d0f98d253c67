using System.Text;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>Self-hosted runners on the REST side: list, get, delete, and registration by JIT config or by registration token (config.sh).</summary>
public sealed partial class GitHubSimulator
{
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

    // ---------------------------------------------------------------- helpers

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
}
