using System.Security.Cryptography;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>Repositories, workflow runs and their jobs: creating, queueing, listing and cancelling.</summary>
public sealed partial class GitHubSimulator
{
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
    /// <param name="headBranch">The run's branch (default: the repository's default branch, <c>main</c>).</param>
    /// <param name="tag">The run is of a tag named <paramref name="headBranch"/> (GitHub then gives the tag's name as <c>head_branch</c>); its commit is on no branch.</param>
    /// <param name="script">The job's steps as a shell script the simulated runner runs in place of waiting <paramref name="duration"/>: exit 0 succeeds, anything else fails; its output is kept on the job.</param>
    public SimWorkflowRun QueueJobs(string repository, IReadOnlyList<string> labels, int count, TimeSpan duration, string? workflowName = null, string? @event = null, string? headRepository = null, string? headBranch = null, string? script = null, bool tag = false)
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
                HeadBranch = headBranch ?? SimRepository.DefaultBranch,
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
                    Script = script,
                    CreatedAt = now,
                };
                run.Jobs.Add(job);
                _jobs[job.Id] = job;
            }

            _runs[run.Id] = run;
            if (!tag && run.HeadRepository is null && run.HeadBranch == SimRepository.DefaultBranch && !run.Event.StartsWith("pull_request", StringComparison.Ordinal))
            {
                // A push to (or a run of) the default branch: its commit is now the branch's head, the ones before it its history.
                _defaultBranchCommits.GetOrAdd(repo.FullName, _ => []).Add(run.HeadSha);
            }

            queued = [.. run.Jobs];
            SignalLocked();
        }

        foreach (var job in queued)
        {
            Webhooks.Enqueue(this, "queued", job);
        }

        return run;
    }

    /// <summary>
    /// <c>GET /repos/{o}/{r}/compare/{base}...{head}</c>'s <c>status</c> for base = the default branch: <c>identical</c>
    /// (head is its tip), <c>behind</c> (head is in its history), <c>diverged</c> (a commit the branch never had: a tag's,
    /// a pull request's); null for a commit the simulator never saw (GitHub answers 404).
    /// </summary>
    public string? CompareWithDefaultBranch(SimRepository repo, string head)
    {
        lock (_gate)
        {
            var history = _defaultBranchCommits.GetValueOrDefault(repo.FullName) ?? [];
            return history.Count > 0 && history[^1] == head ? "identical"
                : history.Contains(head) ? "behind"
                : _runs.Values.Any(r => r.Repository == repo && r.HeadSha == head) ? "diverged"
                : null;
        }
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

    // ---------------------------------------------------------------- helpers

    private static (string Owner, string Name) SplitRepository(string fullName)
    {
        var parts = fullName.Split('/');
        if (parts.Length != 2 || parts.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException($"'{fullName}' is not of the form owner/repo.", nameof(fullName));
        }

        return (parts[0], parts[1]);
    }
}
