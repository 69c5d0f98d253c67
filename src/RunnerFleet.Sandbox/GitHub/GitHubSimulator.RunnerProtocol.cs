using System.Security.Cryptography;
using System.Text;

namespace RunnerFleet.Sandbox.GitHub;

/// <summary>The runner protocol, what the simulated runner itself calls: authentication, sessions, acquiring and completing jobs.</summary>
public sealed partial class GitHubSimulator
{
    // ---------------------------------------------------------------- runner protocol (the runner's side)

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
            runner.OnlineAt ??= Now;
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
                runner.OnlineAt ??= Now;
                runner.SessionOpen = true;
                if (runner.Job is { } current && !runner.JobDone)
                {
                    return current;
                }

                if (runner.Job is null || !runner.Ephemeral)
                {
                    job = _jobs.Values
                        .Where(j => j.Status == "queued" && InScope(runner, j) && LabelsMatch(runner.Labels, j.Labels) && ScaleSetAllows(runner, j))
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
                    job.RunnerOnlineAt = runner.OnlineAt;
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

    public bool CompleteJob(SimRunner runner, long jobId, string conclusion, string? machine = null, bool stepsRan = true, string? output = null)
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
            job.StepsRan = stepsRan;
            job.Output = output;
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

    // ---------------------------------------------------------------- helpers

    public static bool LabelsMatch(IReadOnlyList<string> runnerLabels, IReadOnlyList<string> jobLabels) =>
        jobLabels.All(l => runnerLabels.Contains(l, StringComparer.OrdinalIgnoreCase));

    /// <summary>
    /// A scale set's job goes only to a runner of that scale set, and only once the set holds it (assigned;
    /// on GHES after its listener acquired it). A job of no scale set never goes to a scale set's runner.
    /// </summary>
    private static bool ScaleSetAllows(SimRunner runner, SimJob job) =>
        job.ScaleSetId is { } set ? runner.ScaleSetId == set && job.ScaleSetAcquired : runner.ScaleSetId is null;

    private static bool InScope(SimRunner runner, SimJob job) =>
        string.Equals(runner.Scope, job.Run.Repository.FullName, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(runner.Scope, job.Run.Repository.Owner, StringComparison.OrdinalIgnoreCase);
}
