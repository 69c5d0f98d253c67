using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Fleet;

public sealed class ScalePlannerTests
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static PoolDefinition Pool(string name, int minIdle = 0, int max = 10, string? overflow = null, params string[] labels) => new()
    {
        Name = name,
        Labels = labels.Length == 0 ? ["self-hosted", "linux", "x64"] : ["self-hosted", .. labels],
        Provider = "docker",
        MinIdle = minIdle,
        MaxRunners = max,
        Overflow = overflow,
        DefaultScope = "octo/app",
        IdleTimeout = TimeSpan.FromMinutes(10),
        BootTimeout = TimeSpan.FromMinutes(5),
        MaxJobDuration = TimeSpan.FromHours(1),
    };

    private static RunnerRecord Runner(string pool, RunnerState state, string scope = "octo/app", TimeSpan? age = null, TimeSpan? idleFor = null, TimeSpan? busyFor = null) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Name = $"f-{pool}-{Guid.NewGuid():N}"[..20],
        Pool = pool,
        Provider = "docker",
        Scope = scope,
        State = state,
        RequestedAt = s_now - (age ?? TimeSpan.FromMinutes(1)),
        OnlineAt = idleFor is { } i ? s_now - i : null,
        BusyAt = busyFor is { } b ? s_now - b : null,
    };

    private static JobRecord Job(string pool, string scope = "octo/app", long id = 0) => new()
    {
        Id = id == 0 ? Random.Shared.NextInt64(1, long.MaxValue) : id,
        Repository = scope.Contains('/', StringComparison.Ordinal) ? scope : $"{scope}/repo",
        Labels = ["self-hosted", "linux"],
        Status = JobStatus.Queued,
        Pool = pool,
        Scope = scope,
        QueuedAt = s_now.AddSeconds(-10),
    };

    private static int Provisioned(FleetPlan plan, string pool, string? scope = null) =>
        plan.Provisions.Where(p => p.Pool == pool && (scope is null || p.Scope == scope)).Sum(p => p.Count);

    public static TheoryData<string, int, int, int, int, int, int> SinglePoolCases() => new()
    {
        // name, minIdle, max, queued, idle runners, busy runners, expected provisions
        { "nothing queued, no min idle: nothing", 0, 10, 0, 0, 0, 0 },
        { "one job, no runner: one", 0, 10, 1, 0, 0, 1 },
        { "five jobs: five", 0, 10, 5, 0, 0, 5 },
        { "idle runners serve queued jobs first", 0, 10, 5, 2, 0, 3 },
        { "busy runners do not serve queued jobs", 0, 10, 3, 0, 4, 3 },
        { "capped at max runners", 0, 4, 10, 0, 0, 4 },
        { "busy runners count against max", 0, 4, 10, 0, 3, 1 },
        { "at max: nothing", 0, 4, 10, 0, 4, 0 },
        { "min idle kept with no jobs", 2, 10, 0, 0, 0, 2 },
        { "min idle plus jobs", 2, 10, 3, 0, 0, 5 },
        { "min idle already there", 2, 10, 0, 2, 0, 0 },
        { "min idle on top of busy", 1, 10, 0, 0, 5, 1 },
        { "min idle capped by max", 3, 4, 2, 0, 2, 2 },
        { "more idle than needed: no provisions", 1, 10, 1, 5, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(SinglePoolCases))]
    public void Plans_one_pool(string name, int minIdle, int max, int queued, int idle, int busy, int expected)
    {
        var pool = Pool("p", minIdle, max);
        var runners = Enumerable.Range(0, idle).Select(_ => Runner("p", RunnerState.Idle, idleFor: TimeSpan.FromSeconds(5)))
            .Concat(Enumerable.Range(0, busy).Select(_ => Runner("p", RunnerState.Busy, busyFor: TimeSpan.FromSeconds(5)))).ToList();
        var jobs = Enumerable.Range(0, queued).Select(_ => Job("p")).ToList();

        var plan = ScalePlanner.Plan([pool], runners, jobs, s_now);

        Assert.True(expected == Provisioned(plan, "p"), $"{name}: expected {expected}, planned {Provisioned(plan, "p")}");
        Assert.Empty(plan.Retirements);
    }

    [Fact]
    public void Provisioning_and_requested_runners_count_as_serving_queued_jobs()
    {
        var plan = ScalePlanner.Plan([Pool("p")], [Runner("p", RunnerState.Requested), Runner("p", RunnerState.Provisioning)], [Job("p"), Job("p"), Job("p")], s_now);

        Assert.Equal(1, Provisioned(plan, "p"));
    }

    [Fact]
    public void A_finished_runner_whose_job_is_not_yet_known_absorbs_one_stale_queued_job_of_its_scope()
    {
        var finished = Runner("p", RunnerState.Gone) with { CompletedAt = s_now.AddSeconds(-1) };
        var attributed = Runner("p", RunnerState.Gone) with { CompletedAt = s_now.AddSeconds(-1), JobId = 42 };
        var elsewhere = Runner("p", RunnerState.Gone, scope: "octo/web") with { CompletedAt = s_now.AddSeconds(-1) };

        var plan = ScalePlanner.Plan([Pool("p")], [finished, attributed, elsewhere], [Job("p"), Job("p")], s_now);

        Assert.Equal(1, Provisioned(plan, "p", "octo/app"));
        Assert.Equal(0, Provisioned(plan, "p", "octo/web"));
    }

    [Fact]
    public void Runners_register_in_the_scope_of_the_jobs_they_serve()
    {
        var plan = ScalePlanner.Plan([Pool("p")], [Runner("p", RunnerState.Idle, scope: "octo/web")],
            [Job("p", "octo/api"), Job("p", "octo/api"), Job("p", "octo/web")], s_now);

        Assert.Equal(2, Provisioned(plan, "p", "octo/api"));
        Assert.Equal(0, Provisioned(plan, "p", "octo/web"));
    }

    [Fact]
    public void Pools_plan_independently()
    {
        var pools = new[] { Pool("small", max: 2), Pool("large", max: 5, labels: ["linux", "large"]) };
        var jobs = Enumerable.Range(0, 3).Select(_ => Job("small")).Concat(Enumerable.Range(0, 4).Select(_ => Job("large"))).ToList();

        var plan = ScalePlanner.Plan(pools, [], jobs, s_now);

        Assert.Equal(2, Provisioned(plan, "small"));
        Assert.Equal(4, Provisioned(plan, "large"));
    }

    [Fact]
    public void Demand_a_pool_cannot_place_spills_to_its_overflow()
    {
        var pools = new[] { Pool("native", max: 2, overflow: "emulated"), Pool("emulated", max: 10) };
        var jobs = Enumerable.Range(0, 5).Select(_ => Job("native")).ToList();

        var plan = ScalePlanner.Plan(pools, [Runner("native", RunnerState.Busy)], jobs, s_now);

        Assert.Equal(1, Provisioned(plan, "native"));
        Assert.Equal(4, Provisioned(plan, "emulated"));
    }

    [Fact]
    public void Overflow_is_processed_after_its_source_even_when_configured_first()
    {
        var pools = new[] { Pool("emulated", max: 10), Pool("native", max: 1, overflow: "emulated") };
        var jobs = Enumerable.Range(0, 3).Select(_ => Job("native")).ToList();

        var plan = ScalePlanner.Plan(pools, [], jobs, s_now);

        Assert.Equal(1, Provisioned(plan, "native"));
        Assert.Equal(2, Provisioned(plan, "emulated"));
    }

    [Fact]
    public void Overflow_chains_and_stops_at_the_last_pools_maximum()
    {
        var pools = new[] { Pool("a", max: 1, overflow: "b"), Pool("b", max: 1, overflow: "c"), Pool("c", max: 1) };
        var plan = ScalePlanner.Plan(pools, [], Enumerable.Range(0, 5).Select(_ => Job("a")).ToList(), s_now);

        Assert.Equal([1, 1, 1], new[] { Provisioned(plan, "a"), Provisioned(plan, "b"), Provisioned(plan, "c") });
    }

    [Fact]
    public void Min_idle_does_not_spill_to_overflow()
    {
        var pools = new[] { Pool("native", minIdle: 2, max: 2, overflow: "emulated"), Pool("emulated", max: 10) };
        var plan = ScalePlanner.Plan(pools, [Runner("native", RunnerState.Busy), Runner("native", RunnerState.Busy)], [], s_now);

        Assert.Equal(0, plan.TotalToProvision);
    }

    [Fact]
    public void The_fleet_wide_maximum_caps_all_pools_together_first_pool_first()
    {
        var pools = new[] { Pool("a", max: 10), Pool("b", max: 10, labels: ["linux", "b"]) };
        var jobs = Enumerable.Range(0, 4).Select(_ => Job("a")).Concat(Enumerable.Range(0, 4).Select(_ => Job("b"))).ToList();

        var plan = ScalePlanner.Plan(pools, [Runner("b", RunnerState.Busy)], jobs, s_now, null, null, fleetMaxRunners: 6);

        Assert.Equal(4, Provisioned(plan, "a"));
        Assert.Equal(1, Provisioned(plan, "b"));
    }

    [Fact]
    public void Drained_pool_provisions_nothing()
    {
        var plan = ScalePlanner.Plan([Pool("p", minIdle: 1)], [], [Job("p")], s_now, new HashSet<string> { "p" });

        Assert.Equal(0, plan.TotalToProvision);
    }

    [Fact]
    public void An_unavailable_pool_counts_as_full_so_its_jobs_spill_to_its_overflow()
    {
        var pools = new[] { Pool("native", max: 10, overflow: "emulated"), Pool("emulated", max: 10) };

        var plan = ScalePlanner.Plan(pools, [], [Job("native"), Job("native")], s_now, null, new HashSet<string> { "native" }, null);

        Assert.Equal(0, Provisioned(plan, "native"));
        Assert.Equal(2, Provisioned(plan, "emulated"));
    }

    [Fact]
    public void Jobs_with_no_pool_are_not_demand()
    {
        var job = Job("p") with { Pool = null };

        Assert.Equal(0, ScalePlanner.Plan([Pool("p")], [], [job], s_now).TotalToProvision);
    }

    public static TheoryData<string, RunnerState, TimeSpan, TimeSpan?, TimeSpan?, int, int, RetirementKind?> TimeoutCases() => new()
    {
        // name, state, age, idle for, busy for, min idle, queued, expected retirement
        { "idle past IdleTimeout above min idle", RunnerState.Idle, TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(11), null, 0, 0, RetirementKind.IdleTimeout },
        { "idle within IdleTimeout", RunnerState.Idle, TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(9), null, 0, 0, null },
        { "idle past IdleTimeout but needed for min idle", RunnerState.Idle, TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(11), null, 1, 0, null },
        { "idle past IdleTimeout but a job of its scope waits", RunnerState.Idle, TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(11), null, 0, 1, null },
        { "provisioning past BootTimeout", RunnerState.Provisioning, TimeSpan.FromMinutes(6), null, null, 0, 0, RetirementKind.BootTimeout },
        { "requested past BootTimeout", RunnerState.Requested, TimeSpan.FromMinutes(6), null, null, 0, 0, RetirementKind.BootTimeout },
        { "provisioning within BootTimeout", RunnerState.Provisioning, TimeSpan.FromMinutes(4), null, null, 0, 0, null },
        { "busy past MaxJobDuration", RunnerState.Busy, TimeSpan.FromHours(2), null, TimeSpan.FromMinutes(61), 0, 0, RetirementKind.MaxJobDuration },
        { "busy within MaxJobDuration", RunnerState.Busy, TimeSpan.FromHours(2), null, TimeSpan.FromMinutes(59), 0, 0, null },
    };

    [Theory]
    [MemberData(nameof(TimeoutCases))]
    public void Retires_runners_past_their_timeouts(string name, RunnerState state, TimeSpan age, TimeSpan? idleFor, TimeSpan? busyFor, int minIdle, int queued, RetirementKind? expected)
    {
        var runner = Runner("p", state, age: age, idleFor: idleFor, busyFor: busyFor);
        var plan = ScalePlanner.Plan([Pool("p", minIdle)], [runner], Enumerable.Range(0, queued).Select(_ => Job("p")).ToList(), s_now);

        var retirement = Assert.Single(plan.Retirements.Where(r => r.RunnerId == runner.Id).DefaultIfEmpty());
        Assert.True(expected == retirement?.Kind, $"{name}: expected {expected?.ToString() ?? "none"}, got {retirement?.Kind.ToString() ?? "none"}");
    }

    [Fact]
    public void Idle_retirement_keeps_min_idle_runners_and_retires_the_oldest_first()
    {
        var oldest = Runner("p", RunnerState.Idle, age: TimeSpan.FromHours(1), idleFor: TimeSpan.FromMinutes(50));
        var middle = Runner("p", RunnerState.Idle, age: TimeSpan.FromHours(1), idleFor: TimeSpan.FromMinutes(40));
        var newest = Runner("p", RunnerState.Idle, age: TimeSpan.FromHours(1), idleFor: TimeSpan.FromMinutes(30));

        var plan = ScalePlanner.Plan([Pool("p", minIdle: 1)], [newest, oldest, middle], [], s_now);

        Assert.Equal([oldest.Id, middle.Id], plan.Retirements.Select(r => r.RunnerId));
        Assert.All(plan.Retirements, r => Assert.False(r.Fails));
    }

    private sealed class Reuse(TimeSpan? margin) : IPaidHourReuse
    {
        public TimeSpan? WaitsWhileHourLeaves => margin;
    }

    [Theory]
    // minutes into the paid hour, jobs of another repository waiting for room, the pool's margin, expected retirement
    [InlineData(30, false, 10, null)]
    [InlineData(49, false, 10, null)]
    [InlineData(51, false, 10, RetirementKind.PaidHourEnd)]
    [InlineData(51, false, null, null)]
    [InlineData(45, false, 15, RetirementKind.PaidHourEnd)]
    [InlineData(58, false, null, RetirementKind.PaidHourEnd)]
    [InlineData(30, true, 10, RetirementKind.IdleTimeout)]
    public void A_runner_on_a_machine_rebuilt_within_its_paid_hour_waits_past_IdleTimeout_until_the_margin_is_left_unless_jobs_wait_for_room(int minute, bool starved, int? marginMinutes, RetirementKind? expected)
    {
        var pool = Pool("p", max: 2) with { ProviderSettings = new Reuse(marginMinutes is { } m ? TimeSpan.FromMinutes(m) : null) };
        var billed = s_now.AddMinutes(-minute);
        var rebuilt = Runner("p", RunnerState.Idle, age: TimeSpan.FromMinutes(25), idleFor: TimeSpan.FromMinutes(20)) with { HourlyPrice = 0.0111m, BilledSince = billed, PreviousRunner = "f-p-before" };
        var busy = Runner("p", RunnerState.Busy, busyFor: TimeSpan.FromMinutes(1));
        var waiting = starved ? new[] { Job("p", "octo/other") } : [];

        var plan = ScalePlanner.Plan([pool], [rebuilt, busy], waiting, s_now);

        Assert.Equal(expected, Assert.Single(plan.Retirements.DefaultIfEmpty())?.Kind);
        Assert.All(plan.Retirements, r => Assert.False(r.Fails));
    }

    [Fact]
    public void A_runner_waiting_out_its_paid_hour_goes_at_IdleTimeout_when_its_pool_is_drained()
    {
        var pool = Pool("p") with { ProviderSettings = new Reuse(TimeSpan.FromMinutes(10)) };
        var rebuilt = Runner("p", RunnerState.Idle, age: TimeSpan.FromMinutes(25), idleFor: TimeSpan.FromMinutes(20)) with { HourlyPrice = 0.0111m, BilledSince = s_now.AddMinutes(-30), PreviousRunner = "f-p-before" };

        Assert.Empty(ScalePlanner.Plan([pool], [rebuilt], [], s_now).Retirements);
        Assert.Equal(RetirementKind.IdleTimeout, Assert.Single(ScalePlanner.Plan([pool], [rebuilt], [], s_now, drained: new HashSet<string> { "p" }).Retirements).Kind);
    }

    [Fact]
    public void A_runner_on_a_fresh_paid_machine_still_goes_at_IdleTimeout()
    {
        var fresh = Runner("p", RunnerState.Idle, age: TimeSpan.FromMinutes(15), idleFor: TimeSpan.FromMinutes(11)) with { HourlyPrice = 0.0111m, BilledSince = s_now.AddMinutes(-15) };

        var plan = ScalePlanner.Plan([Pool("p")], [fresh], [], s_now);

        Assert.Equal(RetirementKind.IdleTimeout, Assert.Single(plan.Retirements).Kind);
    }

    [Fact]
    public void Timeouts_that_mean_failure_are_marked_as_failing()
    {
        var plan = ScalePlanner.Plan([Pool("p")], [Runner("p", RunnerState.Provisioning, age: TimeSpan.FromHours(1))], [], s_now);

        Assert.True(Assert.Single(plan.Retirements).Fails);
    }

    [Theory]
    // assigned jobs (running ones included), busy + idle runners live, MinIdle, max → runners to make
    [InlineData(55, 0, 0, 0, 6, 6)]
    [InlineData(55, 4, 2, 0, 6, 0)]
    [InlineData(5, 3, 0, 0, 10, 2)]
    [InlineData(5, 3, 2, 0, 10, 0)]
    [InlineData(0, 0, 0, 2, 10, 2)]
    [InlineData(3, 1, 0, 2, 10, 4)]
    public void A_pool_with_a_channel_target_reaches_min_idle_plus_assigned_jobs_capped_at_its_max(int assigned, int busy, int idle, int minIdle, int max, int make)
    {
        var pool = Pool("set", minIdle, max);
        var runners = Enumerable.Range(0, busy).Select(_ => Runner("set", RunnerState.Busy, busyFor: TimeSpan.FromSeconds(10)))
            .Concat(Enumerable.Range(0, idle).Select(_ => Runner("set", RunnerState.Idle, idleFor: TimeSpan.FromSeconds(10)))).ToList();
        var targets = new Dictionary<string, PoolTarget> { ["set"] = new("set", assigned, Math.Min(minIdle + assigned, max), s_now) };

        var plan = ScalePlanner.Plan([pool], runners, [], s_now, null, null, null, targets);

        Assert.Equal(make, plan.Provisions.Sum(p => p.Count));
    }

    [Fact]
    public void A_finished_runner_of_a_pool_with_a_target_absorbs_nothing_and_its_jobs_never_overflow()
    {
        var pools = new[] { Pool("set", max: 2, overflow: "other"), Pool("other") };
        var finished = Runner("set", RunnerState.Gone) with { CompletedAt = s_now };
        var targets = new Dictionary<string, PoolTarget> { ["set"] = new("set", 5, 2, s_now) };

        var plan = ScalePlanner.Plan(pools, [finished], [], s_now, null, null, null, targets);

        Assert.Equal(("set", 2), (Assert.Single(plan.Provisions).Pool, plan.Provisions[0].Count));
    }

    [Fact]
    public void A_runner_that_finished_after_the_statistics_still_serves_the_job_they_count_one_that_finished_before_does_not()
    {
        // Statistics at s_now: 3 jobs assigned (running ones included). Since then one runner finished (gone already);
        // one busy runner remains. The finished runner's job is still counted until the next message: 1 to make, not 2.
        var pool = Pool("set", max: 10);
        var targets = new Dictionary<string, PoolTarget> { ["set"] = new("set", 3, 3, s_now) };
        var busy = Runner("set", RunnerState.Busy, busyFor: TimeSpan.FromSeconds(10));
        var after = Runner("set", RunnerState.Gone) with { CompletedAt = s_now.AddSeconds(1), JobId = 7 };
        var before = Runner("set", RunnerState.Gone) with { CompletedAt = s_now.AddSeconds(-1), JobId = 8 };

        Assert.Equal(1, ScalePlanner.Plan([pool], [busy, after, before], [], s_now.AddSeconds(2), null, null, null, targets).Provisions.Sum(p => p.Count));
        Assert.Equal(2, ScalePlanner.Plan([pool], [busy, before], [], s_now.AddSeconds(2), null, null, null, targets).Provisions.Sum(p => p.Count));
    }
}
