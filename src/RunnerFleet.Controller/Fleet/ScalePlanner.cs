namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// The scale planner: a pure function of pools, runners, queued jobs and the time.
/// <para>
/// Per pool, desired runners = min(MinIdle + unserved queued jobs, MaxRunners). Live runners (Requested,
/// Provisioning, Idle, Busy) count against MaxRunners; runners not yet busy count as serving queued
/// jobs of their scope, because GitHub, not RunnerFleet, decides which runner takes which job. Job
/// demand a pool cannot place (at its maximum) spills to its <see cref="PoolDefinition.Overflow"/>.
/// </para>
/// <para>
/// It also retires idle runners above MinIdle past IdleTimeout, runners that never came online within
/// BootTimeout and busy runners past MaxJobDuration.
/// </para>
/// <para>
/// <paramref name="runners"/> holds the live records and those that finished a job not yet tied to a job id.
/// </para>
/// </summary>
internal static class ScalePlanner
{
    public static FleetPlan Plan(IReadOnlyList<PoolDefinition> pools, IReadOnlyList<RunnerRecord> runners, IReadOnlyList<JobRecord> queuedJobs, DateTimeOffset now)
        => Plan(pools, runners, queuedJobs, now, drained: null);

    public static FleetPlan Plan(IReadOnlyList<PoolDefinition> pools, IReadOnlyList<RunnerRecord> runners, IReadOnlyList<JobRecord> queuedJobs, DateTimeOffset now, IReadOnlySet<string>? drained)
        => Plan(pools, runners, queuedJobs, now, drained, unavailable: null, fleetMaxRunners: null);

    public static FleetPlan Plan(IReadOnlyList<PoolDefinition> pools, IReadOnlyList<RunnerRecord> runners, IReadOnlyList<JobRecord> queuedJobs, DateTimeOffset now, IReadOnlySet<string>? drained, IReadOnlySet<string>? unavailable, int? fleetMaxRunners)
        => Plan(pools, runners, queuedJobs, now, drained, unavailable, fleetMaxRunners, targets: null);

    /// <param name="drained">Pools that make no new runners at all.</param>
    /// <param name="unavailable">Pools whose provider cannot make runners now: they count as full, so job demand spills to their overflow.</param>
    /// <param name="fleetMaxRunners">Live runners across all pools at most; pools earlier in the configured order get the room first.</param>
    /// <param name="targets">
    /// Pools whose channel says how many jobs are theirs (a scale set's <c>totalAssignedJobs</c>, running ones
    /// included): their demand is those jobs not yet running on one of their runners, in the pool's scope, so the
    /// pool reaches <c>min(MinIdle + assigned, MaxRunners)</c> live runners. Such jobs are bound to the pool: no overflow.
    /// A runner of the pool that finished after the target was set (any finished state, <c>Gone</c> included) still
    /// counts as running its job, as the target does until the next statistics.
    /// </param>
    public static FleetPlan Plan(IReadOnlyList<PoolDefinition> pools, IReadOnlyList<RunnerRecord> runners, IReadOnlyList<JobRecord> queuedJobs, DateTimeOffset now, IReadOnlySet<string>? drained, IReadOnlySet<string>? unavailable, int? fleetMaxRunners, IReadOnlyDictionary<string, PoolTarget>? targets)
    {
        var fleetRoom = fleetMaxRunners is { } fleetMax ? Math.Max(0, fleetMax - runners.Count(r => RunnerStateMachine.IsLive(r.State))) : int.MaxValue;
        var provisions = new List<Provision>();
        var retirements = new List<Retirement>();
        var byPool = pools.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var live = runners.Where(r => RunnerStateMachine.IsLive(r.State)).ToLookup(r => r.Pool, StringComparer.OrdinalIgnoreCase);

        // Job demand per pool and scope, oldest scope first so that a capped pool serves the longest waits.
        var demand = pools.ToDictionary(p => p.Name, _ => new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);
        foreach (var job in queuedJobs.Where(j => j.Status == JobStatus.Queued && j.Pool is not null && j.Scope is not null).OrderBy(j => j.QueuedAt).ThenBy(j => j.Id))
        {
            if (demand.TryGetValue(job.Pool!, out var scopes))
            {
                scopes[job.Scope!] = scopes.GetValueOrDefault(job.Scope!) + 1;
            }
        }

        // A runner that finished a job we have not yet attributed (polling saw neither its start nor its end)
        // served one queued job of its scope: that job's "queued" is stale, so it is no demand.
        foreach (var r in runners.Where(r => r.State is RunnerState.Completed or RunnerState.Destroying or RunnerState.Gone && r.JobId is null && r.CompletedAt is not null
                                             && targets?.ContainsKey(r.Pool) != true))
        {
            if (demand.TryGetValue(r.Pool, out var scopes) && scopes.GetValueOrDefault(r.Scope) > 0)
            {
                scopes[r.Scope]--;
            }
        }

        foreach (var pool in pools)
        {
            if (targets?.GetValueOrDefault(pool.Name) is { } target && pool.DefaultScope is { } scope)
            {
                var running = live[pool.Name].Count(r => r.State == RunnerState.Busy);
                // A runner that finished after the statistics were taken ran a job they still count (assigned jobs
                // include running ones) until the next message: it served that job, so it is no demand.
                var finishedSince = runners.Count(r => string.Equals(r.Pool, pool.Name, StringComparison.OrdinalIgnoreCase)
                                                       && r.State is RunnerState.Completed or RunnerState.Destroying or RunnerState.Gone && r.CompletedAt > target.At);
                demand[pool.Name] = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase) { [scope] = Math.Max(0, target.AssignedJobs - running - finishedSince) };
            }
        }

        foreach (var pool in OverflowOrder(pools))
        {
            var poolRunners = live[pool.Name].ToList();
            var scopes = demand[pool.Name];
            var spare = poolRunners.Where(r => r.State != RunnerState.Busy).GroupBy(r => r.Scope, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => g.Count(), StringComparer.OrdinalIgnoreCase);

            var surplus = spare.Sum(kv => Math.Max(0, kv.Value - scopes.GetValueOrDefault(kv.Key)));
            var capacity = unavailable?.Contains(pool.Name) == true ? 0 : Math.Min(fleetRoom, Math.Max(0, pool.MaxRunners - poolRunners.Count));
            var isDrained = drained?.Contains(pool.Name) == true;
            var made = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            var spill = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);

            foreach (var (scope, jobs) in scopes)
            {
                var need = Math.Max(0, jobs - spare.GetValueOrDefault(scope));
                var take = isDrained ? 0 : Math.Min(need, capacity);
                capacity -= take;
                if (take > 0)
                {
                    made[scope] = take;
                }

                if (need > take)
                {
                    spill[scope] = need - take;
                }
            }

            var idleNeed = isDrained ? 0 : Math.Min(capacity, Math.Max(0, pool.MinIdle - surplus));
            if (idleNeed > 0 && pool.DefaultScope is { } defaultScope)
            {
                made[defaultScope] = made.GetValueOrDefault(defaultScope) + idleNeed;
            }

            provisions.AddRange(made.Select(kv => new Provision(pool.Name, kv.Key, kv.Value)));
            if (fleetRoom != int.MaxValue)
            {
                fleetRoom -= made.Values.Sum();
            }


            if (pool.Overflow is { } overflow && byPool.ContainsKey(overflow) && targets?.ContainsKey(pool.Name) != true)
            {
                foreach (var (scope, count) in spill)
                {
                    demand[overflow][scope] = demand[overflow].GetValueOrDefault(scope) + count;
                }
            }

            retirements.AddRange(Retire(pool, poolRunners, scopes, surplus, now, makeWay: spill.Count > 0 || isDrained));
        }

        return new FleetPlan(provisions, retirements);
    }

    /// <param name="makeWay">Jobs wait for room in this pool, or it is drained: a runner idling out its paid hour goes after IdleTimeout.</param>
    private static IEnumerable<Retirement> Retire(PoolDefinition pool, List<RunnerRecord> poolRunners, Dictionary<string, int> scopes, int surplus, DateTimeOffset now, bool makeWay)
    {
        foreach (var r in poolRunners.Where(r => r.State is RunnerState.Requested or RunnerState.Provisioning && now - r.RequestedAt > pool.BootTimeout))
        {
            yield return new Retirement(r.Id, r.Name, RetirementKind.BootTimeout, $"never came online within BootTimeout {pool.BootTimeout}");
        }

        foreach (var r in poolRunners.Where(r => r.State == RunnerState.Busy && r.BusyAt is { } busy && now - busy > pool.MaxJobDuration))
        {
            yield return new Retirement(r.Id, r.Name, RetirementKind.MaxJobDuration, $"job ran longer than MaxJobDuration {pool.MaxJobDuration}");
        }

        // Only runners no queued job of their scope is waiting for, and never below MinIdle.
        var removable = surplus - pool.MinIdle;
        // Idle past IdleTimeout, or idle on a machine whose paid hour is about to end. A runner on a machine rebuilt
        // within its paid hour waits for a job of its repository while the hour lasts, past IdleTimeout: that hour is
        // paid whether it waits or not, and the next hour would be paid for idling. It goes sooner only when jobs wait
        // for room in the pool or the pool is drained.
        var idle = poolRunners
            .Where(r => r.State == RunnerState.Idle
                && (PaidHourEnds(pool, r, now) || (now - (r.OnlineAt ?? r.CreatedAt ?? r.RequestedAt) > pool.IdleTimeout && (makeWay || !WaitsOutPaidHour(r)))))
            .OrderBy(r => r.OnlineAt ?? r.RequestedAt);
        var absorbed = new Dictionary<string, int>(scopes, StringComparer.OrdinalIgnoreCase);
        foreach (var r in idle)
        {
            if (removable <= 0)
            {
                yield break;
            }

            if (absorbed.GetValueOrDefault(r.Scope) > 0)
            {
                absorbed[r.Scope]--;
                continue;
            }

            removable--;
            yield return !PaidHourEnds(pool, r, now)
                ? new Retirement(r.Id, r.Name, RetirementKind.IdleTimeout, $"idle longer than IdleTimeout {pool.IdleTimeout}")
                : new Retirement(r.Id, r.Name, RetirementKind.PaidHourEnd, "idle, and its machine's paid hour ends within minutes");
        }
    }

    /// <summary>How long before its paid hour ends an idle runner on a machine billed by the hour is retired.</summary>
    public static readonly TimeSpan PaidHourEndsWithin = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Whether the runner's machine is billed by the hour and its paid hour ends within <see cref="PaidHourEndsWithin"/>:
    /// idle on into the next hour, it would be paid for waiting (a warm runner MinIdle keeps, or one a queued job waits
    /// for, stays all the same). A runner on a handed-over machine stops waiting sooner, when the pool's margin is left
    /// (<see cref="IPaidHourReuse"/>): a job it took then would run into the next hour.
    /// </summary>
    internal static bool PaidHourEnds(PoolDefinition pool, RunnerRecord r, DateTimeOffset now)
    {
        if (r.HourlyPrice is null || (r.BilledSince ?? r.CreatedAt) is not { } billed || now <= billed)
        {
            return false;
        }

        var within = WaitsOutPaidHour(r) && pool.ProviderSettings is IPaidHourReuse { WaitsWhileHourLeaves: { } margin } && margin > PaidHourEndsWithin ? margin : PaidHourEndsWithin;
        return TimeSpan.FromHours(1) - TimeSpan.FromTicks((now - billed).Ticks % TimeSpan.TicksPerHour) <= within;
    }

    /// <summary>A runner on a machine handed over within its paid hour (only pools that reuse machines make them).</summary>
    internal static bool WaitsOutPaidHour(RunnerRecord r) => r.PreviousRunner is not null && r.HourlyPrice is not null;

    /// <summary>Pools ordered so that every pool comes after all pools that overflow into it (validation forbids cycles).</summary>
    internal static IReadOnlyList<PoolDefinition> OverflowOrder(IReadOnlyList<PoolDefinition> pools)
    {
        var ordered = new List<PoolDefinition>(pools.Count);
        var placed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var remaining = pools.ToList();
        while (remaining.Count > 0)
        {
            var ready = remaining.FirstOrDefault(p => !remaining.Any(q => q != p && string.Equals(q.Overflow, p.Name, StringComparison.OrdinalIgnoreCase)))
                ?? remaining[0]; // a cycle: validation rejects it at start; here just avoid looping forever
            ordered.Add(ready);
            placed.Add(ready.Name);
            remaining.Remove(ready);
        }

        return ordered;
    }
}
