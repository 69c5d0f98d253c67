using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Lifecycle;

namespace RunnerFleet.Controller.Tests.Lifecycle;

/// <summary>
/// Pay for an hour, use the hour: a finished runner's machine is rebuilt for a new runner within its paid hour, with a
/// new name and registration, and each machine's hours are charged once; never after a fork's job, an unknown origin,
/// past minute 50, for an organization-wide registration, into a full pool; a failed rebuild deletes the machine.
/// </summary>
[Trait("Category", "Hetzner")]
public sealed class ServerReuseTests
{
    private const decimal Price = 0.0111m;

    [Fact]
    public async Task A_finished_runners_machine_is_rebuilt_for_a_new_runner_within_its_paid_hour_and_its_hour_is_charged_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await PaidFleetAsync(ct);
        var first = await fleet.ProvisionAsync(ct);
        var billed = first.BilledSince!.Value;

        var second = await RunJobAndReapAsync(fleet, first, 4301, ct);

        var gone = await fleet.RunnerAsync(first.Id, ct);
        Assert.Equal(RunnerState.Gone, gone.State);
        Assert.Null(gone.FailureReason);
        Assert.Equal(Price, gone.Cost);
        Assert.Contains((await fleet.Store.ListEventsAsync(first.Id, ct)).Select(e => e.Detail), d => d == $"machine handed to {second.Name}");
        Assert.Equal(first.Name, second.PreviousRunner);
        Assert.NotEqual(first.Name, second.Name);
        Assert.Equal(RunnerState.Provisioning, second.State);
        Assert.Equal(first.ProviderResourceId, second.ProviderResourceId);
        Assert.Equal(billed, second.BilledSince);
        Assert.Equal(Price, second.HourlyPrice);
        Assert.Equal("octo/app", second.Scope);
        Assert.True(fleet.Channel.Registered.ContainsKey(second.Name));
        Assert.NotEqual(first.GitHubRunnerId, second.GitHubRunnerId);
        Assert.Equal([(first.ProviderResourceId!, second.Name)], fleet.Provider.Rebuilds);
        Assert.Null(fleet.Provider.Find(first.Name));

        // And again, 20 minutes into the hour: a third runner on the same machine; the second one cost nothing more.
        var third = await RunJobAndReapAsync(fleet, second, 4302, ct);
        Assert.Equal(first.ProviderResourceId, third.ProviderResourceId);
        Assert.Equal(0m, (await fleet.RunnerAsync(second.Id, ct)).Cost);

        // The third one idles to the end of the paid hour: retired before the next one starts, machine deleted, nothing charged.
        await fleet.AdvanceAsync(billed.AddMinutes(55) - fleet.Time.GetUtcNow(), ct);
        await fleet.Get<RunnerTracker>().OnRunnersAsync([new GitHubRunner(third.GitHubRunnerId!.Value, third.Name, "Linux", "online", Busy: false, Ephemeral: true, Labels: null)], ct);
        await fleet.AdvanceAsync(TimeSpan.FromMinutes(1), ct);
        Assert.Empty((await fleet.Get<PlanExecutor>().RunAsync(ct)).Retirements);
        await fleet.AdvanceAsync(TimeSpan.FromMinutes(1.5), ct);
        var plan = await fleet.Get<PlanExecutor>().RunAsync(ct);

        Assert.Equal(RetirementKind.PaidHourEnd, Assert.Single(plan.Retirements).Kind);
        var last = await fleet.RunnerAsync(third.Id, ct);
        Assert.Equal(RunnerState.Gone, last.State);
        Assert.Equal(0m, last.Cost);
        Assert.Null(fleet.Provider.Find(third.Name));
        var all = await fleet.Store.ListRunnersAsync(10, ct);
        Assert.Equal(Price, all.Sum(r => r.Cost));
    }

    [Fact]
    public async Task Twenty_five_minute_jobs_of_one_repository_pay_for_three_server_hours_not_twenty_and_no_server_lives_into_an_unpaid_hour()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await PaidFleetAsync(ct);
        var executor = fleet.Get<PlanExecutor>();
        for (var i = 0; i < 20; i++)
        {
            // The job is queued; the plan makes a server only when no runner (or machine being handed over) can take it.
            await fleet.Ingestor.IngestAsync([LifecycleFixture.Job(5000 + i) with { QueuedAt = fleet.Time.GetUtcNow() }], "webhook", FakeChannel.KindName, ct);
            fleet.Provider.BilledAt = fleet.Time.GetUtcNow();
            await executor.RunAsync(ct);
            var runner = Assert.Single(await fleet.Store.ListActiveRunnersAsync(ct), r => RunnerStateMachine.IsLive(r.State));
            await RunJobAndReapAsync(fleet, runner, 5000 + i, ct, expectRebuild: null);
        }

        // The last runner idles until its paid hour is nearly over, then goes with its server.
        for (var minute = 0; minute < 60 && (await fleet.Store.ListActiveRunnersAsync(ct)).Count > 0; minute++)
        {
            await fleet.AdvanceAsync(TimeSpan.FromMinutes(1), ct);
            foreach (var idle in (await fleet.Store.ListActiveRunnersAsync(ct)).Where(r => r.State == RunnerState.Provisioning))
            {
                await fleet.Get<RunnerTracker>().OnRunnersAsync([new GitHubRunner(idle.GitHubRunnerId!.Value, idle.Name, "Linux", "online", Busy: false, Ephemeral: true, Labels: null)], ct);
            }

            await executor.RunAsync(ct);
        }

        var runners = await fleet.Store.ListRunnersAsync(100, ct);
        var machines = runners.GroupBy(r => r.ProviderResourceId).ToList();
        Assert.Empty(await fleet.Store.ListActiveRunnersAsync(ct));
        Assert.Equal(20, runners.Count(r => r.JobId is not null));
        Assert.InRange(machines.Count, 2, 4);
        Assert.All(machines, m => Assert.True(m.Max(r => r.DestroyedAt) - m.Min(r => r.BilledSince) < TimeSpan.FromHours(1), $"machine {m.Key} lived into a second hour"));
        Assert.All(machines, m => Assert.Null(fleet.Provider.Find(m.OrderBy(r => r.RequestedAt).Last().Name)));
        Assert.Equal(machines.Count * Price, runners.Sum(r => r.Cost));
        Assert.True(runners.Sum(r => r.Cost) * 3 <= 20 * Price, "reuse should cost at most a third of a server per job");
    }

    [Fact]
    public async Task A_job_queued_while_a_finished_runners_machine_awaits_its_hand_over_gets_no_server_of_its_own()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await PaidFleetAsync(ct);
        var runner = await fleet.ProvisionAsync(ct);
        await fleet.AdvanceAsync(TimeSpan.FromSeconds(30), ct);
        await fleet.Ingestor.IngestAsync([LifecycleFixture.Job(4301, JobStatus.InProgress) with { RunnerName = runner.Name, StartedAt = fleet.Time.GetUtcNow() }], "poll", FakeChannel.KindName, ct);
        await fleet.AdvanceAsync(TimeSpan.FromMinutes(5), ct);
        await fleet.Ingestor.IngestAsync([LifecycleFixture.Job(4301, JobStatus.Completed) with { RunnerName = runner.Name, CompletedAt = fleet.Time.GetUtcNow(), Conclusion = "success" }], "poll", FakeChannel.KindName, ct);
        Assert.Equal(RunnerState.Completed, (await fleet.RunnerAsync(runner.Id, ct)).State);
        await fleet.Ingestor.IngestAsync([LifecycleFixture.Job(4302) with { QueuedAt = fleet.Time.GetUtcNow() }], "webhook", FakeChannel.KindName, ct);

        var plan = await fleet.Get<PlanExecutor>().RunAsync(ct);

        Assert.Equal(0, plan.TotalToProvision);
        // Once handed over, the rebuilt runner is the job's; still nothing new.
        fleet.Provider.Exit(runner.Name, 0);
        await fleet.Reaper.ReapAsync(ct);
        await fleet.Get<ServerReuse>().WhenIdleAsync();
        Assert.Equal(0, (await fleet.Get<PlanExecutor>().RunAsync(ct)).TotalToProvision);
        Assert.Single(fleet.Provider.Rebuilds);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(null)]
    public async Task A_machine_that_ran_a_fork_pull_requests_job_or_one_of_unknown_origin_is_deleted_never_rebuilt(bool? fork)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await PaidFleetAsync(ct);
        fleet.Policy.Forks[7000 + 4301] = fork;
        var runner = await fleet.ProvisionAsync(ct);

        await RunJobAndReapAsync(fleet, runner, 4301, ct, expectRebuild: false);

        Assert.Empty(fleet.Provider.Rebuilds);
        Assert.Null(fleet.Provider.Find(runner.Name));
        Assert.Empty(await fleet.Store.ListActiveRunnersAsync(ct));
    }

    [Fact]
    public async Task With_the_daily_budget_spent_the_machine_is_deleted_not_handed_over()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await PaidFleetAsync(ct);
        // One hour of the machine is all the fleet may spend today: another job on it could run into a second.
        fleet.Get<Microsoft.Extensions.Options.IOptions<RunnerFleet.Controller.Configuration.FleetOptions>>().Value.DailyBudget = Price;
        var runner = await fleet.ProvisionAsync(ct);

        await RunJobAndReapAsync(fleet, runner, 4301, ct, expectRebuild: false);

        Assert.Empty(fleet.Provider.Rebuilds);
        Assert.Null(fleet.Provider.Find(runner.Name));
    }

    [Fact]
    public async Task Past_minute_fifty_of_the_paid_hour_the_machine_is_deleted()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await PaidFleetAsync(ct);
        var runner = await fleet.ProvisionAsync(ct);

        await RunJobAndReapAsync(fleet, runner, 4301, ct, expectRebuild: false, jobTakes: TimeSpan.FromMinutes(51));

        Assert.Empty(fleet.Provider.Rebuilds);
        Assert.Empty(await fleet.Store.ListActiveRunnersAsync(ct));
    }

    [Fact]
    public async Task A_runner_registered_to_an_organization_is_not_rebuilt_by_default()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await PaidFleetAsync(ct);
        var runner = (await fleet.Provisioner.ProvisionAsync(fleet.Pool, "octo", ct)).Runner;

        await RunJobAndReapAsync(fleet, runner, 4301, ct, expectRebuild: false);

        Assert.Empty(fleet.Provider.Rebuilds);
        Assert.Null(fleet.Provider.Find(runner.Name));
    }

    [Fact]
    public async Task A_rebuild_that_fails_deletes_the_machine_and_the_new_runners_registration()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await PaidFleetAsync(ct);
        fleet.Provider.FailNextRebuild = true;
        var runner = await fleet.ProvisionAsync(ct);

        await RunJobAndReapAsync(fleet, runner, 4301, ct, expectRebuild: false);

        var records = await fleet.Store.ListRunnersAsync(10, ct);
        var failed = Assert.Single(records, r => r.Id != runner.Id);
        Assert.Equal(RunnerState.Failed, failed.State);
        Assert.StartsWith("rebuild failed", failed.FailureReason, StringComparison.Ordinal);
        Assert.NotNull(failed.DestroyedAt);
        Assert.Contains(failed.Name, fleet.Channel.Deregistered);
        Assert.Null(fleet.Provider.Find(runner.Name));
        Assert.Equal(RunnerState.Gone, (await fleet.RunnerAsync(runner.Id, ct)).State);
        Assert.Equal(Price, records.Sum(r => r.Cost));
    }

    [Fact]
    public async Task A_controller_killed_mid_rebuild_leaves_nothing_after_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await PaidFleetAsync(ct);
        var runner = await fleet.ProvisionAsync(ct);
        // What a controller killed between writing the new record and relabelling the machine leaves: the old record
        // Gone, a new one Requested by a node that is gone, holding the machine, which still carries the old name.
        await fleet.Store.HeartbeatAsync("dead-node", ct);
        var orphan = runner with
        {
            Id = Guid.NewGuid().ToString("N"), Name = "test-linux-0000000dead", State = RunnerState.Requested, Owner = "dead-node",
            RequestedAt = fleet.Time.GetUtcNow(), CreatedAt = null, GitHubRunnerId = null, BilledSince = runner.BilledSince,
        };
        await fleet.Store.InsertRunnerAsync(orphan, ct);
        await fleet.Get<RunnerTransitions>().FailAsync(runner.Id, "test: stands for the handed-over record", fleet.Time.GetUtcNow(), ct);
        await fleet.AdvanceAsync(TimeSpan.FromMinutes(2), ct);

        await fleet.Reaper.ReapAsync(ct);

        Assert.Empty(await fleet.Store.ListActiveRunnersAsync(ct));
        Assert.Null(fleet.Provider.Find(runner.Name));
        Assert.Equal(RunnerState.Failed, (await fleet.RunnerAsync(orphan.Id, ct)).State);
    }

    [Fact]
    public void A_machines_hours_are_charged_once_across_its_runners_whatever_the_clocks_say()
    {
        var billed = LifecycleFixture.Start;
        // The provider's clock (Hetzner's "created", to the millisecond) may read a little before the request's own.
        var fresh = new RunnerRecord
        {
            Id = "1", Name = "f-p-1", Pool = "p", Provider = "fake", Scope = "octo/app", State = RunnerState.Gone,
            RequestedAt = billed.AddTicks(4000), CreatedAt = billed.AddSeconds(20), BilledSince = billed, HourlyPrice = Price,
        };
        var second = fresh with { Id = "2", Name = "f-p-2", RequestedAt = billed.AddMinutes(6), PreviousRunner = fresh.Name };
        var third = second with { Id = "3", Name = "f-p-3", RequestedAt = billed.AddMinutes(50), PreviousRunner = second.Name };

        Assert.Equal(Price, fresh.CostUntil(billed.AddMinutes(6)));
        Assert.Equal(0m, second.CostUntil(billed.AddMinutes(50)));
        // The third ran into the second hour: that hour is its.
        Assert.Equal(Price, third.CostUntil(billed.AddMinutes(70)));
        Assert.Equal(2 * Price, fresh.CostUntil(billed.AddMinutes(6)) + second.CostUntil(billed.AddMinutes(50)) + third.CostUntil(billed.AddMinutes(70)));
    }

    private static async Task<LifecycleFixture> PaidFleetAsync(CancellationToken ct)
    {
        var fleet = await LifecycleFixture.CreateAsync(ct, paid: true);
        fleet.Provider.Rebuildable = true;
        fleet.Provider.HourlyPrice = Price;
        fleet.Provider.BilledAt = fleet.Time.GetUtcNow();
        return fleet;
    }

    /// <summary>The runner takes job <paramref name="jobId"/>, which runs 5 minutes (or <paramref name="jobTakes"/>); its machine powers off; the reaper runs. Returns the rebuilt runner.</summary>
    private static async Task<RunnerRecord> RunJobAndReapAsync(LifecycleFixture fleet, RunnerRecord runner, long jobId, CancellationToken ct, bool? expectRebuild = true, TimeSpan? jobTakes = null)
    {
        await fleet.AdvanceAsync(TimeSpan.FromSeconds(30), ct);
        await fleet.Ingestor.IngestAsync([LifecycleFixture.Job(jobId, JobStatus.InProgress) with { RunnerName = runner.Name, StartedAt = fleet.Time.GetUtcNow() }], "poll", FakeChannel.KindName, ct);
        await fleet.AdvanceAsync(jobTakes ?? TimeSpan.FromMinutes(5), ct);
        fleet.Provider.Exit(runner.Name, 0);
        await fleet.Reaper.ReapAsync(ct);
        await fleet.Get<ServerReuse>().WhenIdleAsync();
        var next = (await fleet.Store.ListActiveRunnersAsync(ct)).SingleOrDefault(r => r.Id != runner.Id);
        if (expectRebuild is { } expected)
        {
            Assert.Equal(expected, next is not null);
        }

        return next!;
    }
}
