using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.IntegrationTests;

/// <summary>ARM64 runners on Hetzner Cloud: controller ↔ Hetzner and GitHub simulators over real HTTP.</summary>
[Trait("Category", "Hetzner")]
[Collection(nameof(DockerCollection))]
public sealed class HetznerTests(DockerEnvironment docker)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);
    private static readonly string[] s_arm = ["self-hosted", "linux", "arm64"];

    private static Dictionary<string, string> ArmPool(int max = 10, string? overflow = null)
    {
        var pool = new Dictionary<string, string>
        {
            ["Name"] = "cax", ["Provider"] = "hetzner", ["Labels:0"] = "linux", ["Labels:1"] = "arm64", ["MaxRunners"] = max.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Hetzner:ServerTypes:0"] = "cax21", ["Hetzner:ServerTypes:1"] = "cax31",
            ["Hetzner:Locations:0"] = "fsn1", ["Hetzner:Locations:1"] = "nbg1",
            ["Hetzner:Image"] = "ubuntu-24.04",
        };
        if (overflow is not null)
        {
            pool["Overflow"] = overflow;
        }

        return pool;
    }

    /// <summary>The overflow: arm64 containers of the simulated runner on the x86 engine, through QEMU user-mode emulation.</summary>
    private static Dictionary<string, string> EmulatedPool() => new()
    {
        ["Name"] = "emulated", ["Provider"] = "docker", ["Labels:0"] = "linux", ["Labels:1"] = "arm64", ["MaxRunners"] = "4",
        ["Docker:Platform"] = "linux/arm64", ["Docker:Image"] = "runnerfleet/sim-runner:arm64",
    };

    private static Task<FleetUnderTest> StartAsync(DockerEnvironment docker, HetznerSimulatorOptions? options = null, params Dictionary<string, string>[] pools) =>
        StartAsync(docker, options, pools, null, null);

    private static Task<FleetUnderTest> StartAsync(DockerEnvironment docker, HetznerSimulatorOptions? options, Dictionary<string, string>[] pools, IReadOnlyDictionary<string, string>? extra, CapturedLogs? logs, TimeProvider? time = null) =>
        FleetUnderTest.StartAsync(docker, ["octo/app"], pools, logs: logs, hetzner: options ?? new HetznerSimulatorOptions { BootDelay = TimeSpan.FromMilliseconds(300), ActionDelay = TimeSpan.FromMilliseconds(100) }, extra: extra, time: time);

    private static async Task WaitDoneAsync(FleetUnderTest fleet) =>
        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync() && fleet.Hetzner.LiveServers().Count == 0,
            s_timeout, async () => await fleet.DescribeAsync() + $"; live servers: {fleet.Hetzner.LiveServers().Count}");

    /// <summary>
    /// Pay for an hour, use the hour: a fork pull request's server is deleted, never rebuilt; then jobs of one repository,
    /// one after another, on one server rebuilt between them (every job on a fresh disk: it finds no file a job before it
    /// left). The last runner waits for a next job while the paid hour lasts; drained, its pool lets it go and its server
    /// is deleted. The hour is charged once.
    /// </summary>
    [Fact]
    public async Task Jobs_of_one_repository_reuse_one_server_rebuilt_between_them_and_a_fork_pull_requests_server_is_deleted()
    {
        var pool = ArmPool(max: 2);
        pool["Hetzner:ReuseWithinPaidHour"] = "true";
        pool["IdleTimeout"] = "00:00:05";
        pool["AllowForkPullRequests"] = "true";
        // The server list read every second: a runner's machine that powered off after its job is seen at once (as
        // shipped, within a minute or the reaper's 30 s grace), so each next job finds the rebuilt runner.
        await using var fleet = await StartAsync(docker, null, [pool], new Dictionary<string, string> { ["Hetzner:ServerListMaxAge"] = "00:00:01" }, null);
        var ct = TestContext.Current.CancellationToken;

        // A fork's pull request (the pool allows them to run): its server is deleted, not rebuilt.
        var fork = fleet.GitHub.QueueJobs("octo/app", s_arm, 1, TimeSpan.FromMilliseconds(300), @event: "pull_request", headRepository: "mallory/app");
        await WaitDoneAsync(fleet);
        var forkServer = Assert.Single(fleet.Hetzner.AllServers());
        Assert.Equal(0, forkServer.Rebuilds);
        Assert.True(forkServer.Deleted);
        Assert.Empty(fleet.Hetzner.DiskSeenBy(fork.Jobs.Single().Id)!);

        var jobs = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            var run = fleet.GitHub.QueueJobs("octo/app", s_arm, 1, TimeSpan.FromMilliseconds(300));
            var job = run.Jobs.Single().Id;
            jobs.Add(job);
            // The next job comes once this one's machine was handed on (one queued while the runner still ran its job,
            // before GitHub reported it done, would get a server of its own: nothing says yet that the machine frees up).
            await FleetUnderTest.WaitUntilAsync(
                async () => fleet.GitHub.AllJobs().Single(j => j.Id == job).Status == "completed"
                            && (await fleet.Store.ListActiveRunnersAsync(ct)).All(r => r.State is RunnerState.Requested or RunnerState.Provisioning or RunnerState.Idle),
                s_timeout, fleet.DescribeAsync);
        }

        // The rebuilt runner waits for a next job while its hour lasts, past its IdleTimeout (ScalePlannerTests hold the
        // rule on a fake clock); a drained pool lets it go.
        await FleetUnderTest.WaitUntilAsync(async () => (await fleet.Store.ListActiveRunnersAsync(ct)).Any(r => r.State == RunnerState.Idle), s_timeout, fleet.DescribeAsync);
        Assert.Single(fleet.Hetzner.LiveServers());

        await fleet.Store.SetPoolDrainedAsync("cax", true, ct);
        await WaitDoneAsync(fleet);

        var server = Assert.Single(fleet.Hetzner.AllServers(), s => s.Id != forkServer.Id);
        Assert.True(server.Deleted);
        Assert.True(server.Rebuilds >= jobs.Count - 1, $"{server.Rebuilds} rebuilds for {jobs.Count} jobs");
        Assert.All(jobs, j => Assert.Empty(fleet.Hetzner.DiskSeenBy(j)!));
        var runners = (await fleet.Store.ListRunnersAsync(100, ct)).Where(r => r.JobId != fork.Jobs.Single().Id && r.ProviderResourceId != forkServer.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.All(runners, r => Assert.Equal(server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), r.ProviderResourceId));
        Assert.Equal(server.Type.HourlyGross, runners.Sum(r => r.Cost));
    }

    /// <summary>
    /// Issue 18's test on simulated time: 20 five-minute jobs of one repository, one about every five minutes, the whole
    /// controller and both simulators on one fake clock over real HTTP. Far fewer servers than jobs; every job on a
    /// freshly rebuilt disk (the simulated runner sees no file a job before it left); every server deleted before its
    /// next paid hour starts; the controller's cost is Hetzner's bill.
    /// </summary>
    [Fact]
    public async Task Twenty_five_minute_jobs_on_simulated_time_take_a_few_servers_each_job_on_a_fresh_disk_and_none_into_a_second_hour()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 7, 0, 0, TimeSpan.Zero));
        var pool = ArmPool(max: 4);
        pool["Hetzner:ReuseWithinPaidHour"] = "true";
        var extra = new Dictionary<string, string>
        {
            // Loops in real time, a few simulated seconds apart as the clock is stepped.
            ["Fleet:PlanInterval"] = "00:00:00.250", ["Fleet:ReapInterval"] = "00:00:00.250", ["Fleet:ReconcileInterval"] = "00:00:05", ["GitHub:PollInterval"] = "00:00:01",
        };
        await using var fleet = await StartAsync(docker, new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(20), ActionDelay = TimeSpan.FromSeconds(2) }, [pool], extra, null, clock);
        var ct = TestContext.Current.CancellationToken;
        var random = new Random(18);
        var arrivals = new List<TimeSpan>();
        for (var (at, i) = (TimeSpan.Zero, 0); i < 20; i++)
        {
            at += TimeSpan.FromMinutes(2 + (6 * random.NextDouble()));
            arrivals.Add(at);
        }

        var start = clock.GetUtcNow();
        var queued = 0;
        var real = Stopwatch.StartNew();
        while (queued < arrivals.Count || !(fleet.GitHub.AllJobs().All(j => j.Status == "completed") && fleet.Hetzner.LiveServers().Count == 0 && (await fleet.Store.ListActiveRunnersAsync(ct)).Count == 0))
        {
            while (queued < arrivals.Count && start + arrivals[queued] <= clock.GetUtcNow())
            {
                fleet.GitHub.QueueJobs("octo/app", s_arm, 1, TimeSpan.FromMinutes(5));
                queued++;
            }

            // Bounds: every server goes within its first hour, so an hour after the last job nothing may be left; and a
            // machine three times slower than this one still steps the clock through in well under the real bound.
            if (clock.GetUtcNow() - start > arrivals[^1] + TimeSpan.FromHours(1) || real.Elapsed > TimeSpan.FromMinutes(15))
            {
                Assert.Fail($"after {(clock.GetUtcNow() - start).TotalMinutes:F0} simulated minutes: {await fleet.DescribeAsync()}; live servers: {fleet.Hetzner.LiveServers().Count}");
            }

            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5, ct);
        }

        var jobs = fleet.GitHub.AllJobs();
        var servers = fleet.Hetzner.AllServers();
        Assert.Equal(20, jobs.Count);
        Assert.All(jobs, j => Assert.Equal("success", j.Conclusion));
        Assert.InRange(servers.Count, 2, 8);
        Assert.All(jobs, j => Assert.Empty(fleet.Hetzner.DiskSeenBy(j.Id)!));
        Assert.All(servers, s => Assert.True(s.DeletedAt!.Value - s.Created < TimeSpan.FromHours(1), $"server {s.Id} lived {(s.DeletedAt!.Value - s.Created).TotalMinutes:F1} minutes"));
        // Every job but each server's first ran on a rebuilt disk (a rebuilt runner may also have idled out its hour).
        Assert.True(servers.Sum(s => s.Rebuilds) >= jobs.Count - servers.Count, $"{servers.Sum(s => s.Rebuilds)} rebuilds, {servers.Count} servers, {jobs.Count} jobs");
        var cost = (await fleet.Store.ListRunnersAsync(100, ct)).Sum(r => r.Cost);
        Assert.Equal(servers.Sum(s => s.Type.HourlyGross), cost);
    }

    [Fact]
    public async Task Ten_arm64_jobs_get_ten_labelled_cax_servers_that_run_one_job_each_and_are_deleted_with_their_cost()
    {
        await using var fleet = await StartAsync(docker, null, ArmPool());
        fleet.GitHub.QueueJobs("octo/app", s_arm, 10, TimeSpan.FromMilliseconds(500));

        await WaitDoneAsync(fleet);

        var servers = fleet.Hetzner.AllServers();
        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        Assert.Equal(10, servers.Count);
        Assert.Equal(10, runners.Count);
        Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal(1, j.Assignments));
        Assert.Empty(fleet.GitHub.AllRunners());
        foreach (var s in servers)
        {
            Assert.True(s.Deleted);
            Assert.Equal("cax21", s.Type.Name);
            Assert.Equal("arm", s.Type.Architecture);
            Assert.Equal("fsn1", s.Location);
            Assert.Equal("ubuntu-24.04", s.ImageName);
            Assert.Equal(fleet.Fleet, s.Labels[RunnerLabels.Fleet]);
            Assert.Equal("cax", s.Labels[RunnerLabels.Pool]);
            Assert.Contains(runners, r => r.Name == s.Labels[RunnerLabels.Runner] && r.ProviderResourceId == s.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Single(s.Firewalls);
            Assert.StartsWith("#cloud-config\n", s.UserData, StringComparison.Ordinal);
            Assert.True(HetznerSimulator.ParseRunnerEnvironment(s.UserData).ContainsKey("ACTIONS_RUNNER_INPUT_JITCONFIG"));
            Assert.True(s.UserData!.IndexOf("169.254.169.254", StringComparison.Ordinal) < s.UserData.IndexOf("run.sh", StringComparison.Ordinal));
            Assert.Null(s.RunnerError);
        }

        Assert.All(runners, r =>
        {
            Assert.Equal(RunnerState.Gone, r.State);
            Assert.Equal(0.0111m, r.HourlyPrice);
            Assert.Equal(0.0111m, r.Cost);
            Assert.Equal("cax21@fsn1", r.ProviderEndpoint);
        });

        using var http = new HttpClient();
        var pools = await http.GetFromJsonAsync<JsonElement>(new Uri(fleet.ControllerUrl, "/api/pools"), TestContext.Current.CancellationToken);
        Assert.Equal(0.111m, pools[0].GetProperty("costToday").GetDecimal());
    }

    [Fact]
    public async Task When_the_first_type_is_unavailable_in_the_first_location_servers_come_up_as_the_next_pair()
    {
        await using var fleet = await StartAsync(docker, null, ArmPool());
        fleet.Hetzner.SetAvailability("cax21", "fsn1", false);
        fleet.GitHub.QueueJobs("octo/app", s_arm, 3, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        Assert.All(fleet.Hetzner.AllServers(), s => Assert.Equal(("cax21", "nbg1"), (s.Type.Name, s.Location)));
        Assert.Equal(3, fleet.Hetzner.AllServers().Count);
    }

    [Fact]
    public async Task A_type_that_becomes_unavailable_at_create_time_falls_back_to_the_next_type()
    {
        await using var fleet = await StartAsync(docker, null, ArmPool());
        // The listing still says available; the create answers resource_unavailable (stock runs out between the two).
        fleet.Hetzner.AddFault(new SimHetznerFault { PathPrefix = "/servers", Method = "POST", Code = "resource_unavailable", Count = 2 });
        fleet.GitHub.QueueJobs("octo/app", s_arm, 1, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        var server = Assert.Single(fleet.Hetzner.AllServers());
        Assert.Equal(("cax31", "fsn1"), (server.Type.Name, server.Location));
    }

    [Fact]
    public async Task With_every_cax_unavailable_the_jobs_go_to_the_emulated_overflow_pool()
    {
        await using var fleet = await StartAsync(docker, null, ArmPool(overflow: "emulated"), EmulatedPool());
        foreach (var type in new[] { "cax21", "cax31" })
        {
            foreach (var location in new[] { "fsn1", "nbg1" })
            {
                fleet.Hetzner.SetAvailability(type, location, false);
            }
        }

        fleet.GitHub.QueueJobs("octo/app", s_arm, 4, TimeSpan.FromMilliseconds(300));
        await WaitDoneAsync(fleet);

        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        Assert.Empty(fleet.Hetzner.AllServers());
        Assert.Equal(4, runners.Count(r => r.Pool == "emulated" && r.State == RunnerState.Gone));
        Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal("aarch64", j.RunnerMachine));
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
        Assert.All(runners.Where(r => r.Pool == "cax"), r => Assert.Contains("available", r.FailureReason, StringComparison.Ordinal));
        // At most one attempt per job (those started together in the first tick), then the pool is skipped.
        Assert.InRange(runners.Count(r => r.Pool == "cax"), 1, 4);
    }

    /// <summary>
    /// The project's 3,600 requests an hour must last: a shared server list, action polls that back off, no
    /// per-create list. Every request the simulator answered, start-up included, over the runners made.
    /// </summary>
    [Fact]
    public async Task A_runner_costs_at_most_six_hetzner_requests()
    {
        // The shipped action polling (the other tests poll every 200 ms to run fast), and a create that takes 2 s.
        await using var fleet = await StartAsync(docker, new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(2), ActionDelay = TimeSpan.FromMilliseconds(100) },
            [ArmPool()], new Dictionary<string, string> { ["Hetzner:ActionPollInterval"] = new RunnerFleet.Controller.Providers.Hetzner.HetznerOptions().ActionPollInterval.ToString() }, null);
        fleet.GitHub.QueueJobs("octo/app", s_arm, 10, TimeSpan.FromSeconds(1));

        await WaitDoneAsync(fleet);

        var runners = (await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken)).Count;
        Assert.Equal(10, runners);
        var perRunner = (double)fleet.Hetzner.RequestsServed / runners;
        Assert.True(perRunner <= 6, $"{fleet.Hetzner.RequestsServed} Hetzner requests for {runners} runners ({perRunner:F1} each)");
    }

    /// <summary>A create whose action ends in error is a capacity refusal: the server is deleted and the next pair tried at once.</summary>
    [Fact]
    public async Task A_create_whose_action_fails_is_deleted_and_the_next_pair_serves_the_job()
    {
        await using var fleet = await StartAsync(docker, null, ArmPool());
        fleet.Hetzner.FailNextCreateActions = 1;
        fleet.GitHub.QueueJobs("octo/app", s_arm, 1, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        var runner = Assert.Single(await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken));
        Assert.Equal(RunnerState.Gone, runner.State);
        Assert.Equal([("cax21", "fsn1"), ("cax21", "nbg1")], fleet.Hetzner.AllServers().Select(s => (s.Type.Name, s.Location)));
        Assert.All(fleet.Hetzner.AllServers(), s => Assert.True(s.Deleted));
    }

    /// <summary>Refusals Hetzner answers for an advertised type and location move to the next pair like resource_unavailable.</summary>
    [Theory]
    [InlineData(SimCreateRefusal.PlacementError)]
    [InlineData(SimCreateRefusal.UnsupportedLocation)]
    public async Task Placement_errors_and_unsupported_locations_move_to_the_next_pair(SimCreateRefusal refusal)
    {
        await using var fleet = await StartAsync(docker, null, ArmPool());
        fleet.Hetzner.RefuseCreates("cax21", "fsn1", refusal);
        fleet.GitHub.QueueJobs("octo/app", s_arm, 2, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        Assert.Equal(2, fleet.Hetzner.AllServers().Count);
        Assert.All(fleet.Hetzner.AllServers(), s => Assert.Equal(("cax21", "nbg1"), (s.Type.Name, s.Location)));
        Assert.All(await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken), r => Assert.Equal(RunnerState.Gone, r.State));
    }

    /// <summary>The image is resolved per architecture: an ARM type gets the arm image's id, never the x86 default of the name.</summary>
    [Fact]
    public async Task Servers_are_created_from_the_image_of_their_architecture()
    {
        await using var fleet = await StartAsync(docker, null, ArmPool());
        fleet.GitHub.QueueJobs("octo/app", s_arm, 2, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        var arm = HetznerSimulator.Images.Single(i => i.Name == "ubuntu-24.04" && i.Architecture == "arm").Id;
        Assert.Equal(2, fleet.Hetzner.AllServers().Count);
        Assert.All(fleet.Hetzner.AllServers(), s => Assert.Equal(arm, s.ImageId));
    }

    /// <summary>A prepared snapshot whose runner is older than GitHub's current release (or unlabelled) is reported once.</summary>
    [Fact]
    public async Task A_prepared_snapshot_behind_githubs_current_runner_release_is_reported()
    {
        using var logs = new CapturedLogs();
        var pool = ArmPool();
        pool["Hetzner:Image"] = HetznerSimulator.Images.Single(i => i.Name == "ubuntu-24.04" && i.Architecture == "arm").Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        pool["Hetzner:PreparedImage"] = "true";
        await using var fleet = await StartAsync(docker, null, [pool], null, logs);
        fleet.GitHub.QueueJobs("octo/app", s_arm, 2, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        var report = Assert.Single(logs.Lines, l => l.Contains("Prepared snapshot", StringComparison.Ordinal));
        Assert.Contains("current release is", report, StringComparison.Ordinal);
        Assert.Contains(RunnerFleet.Sandbox.GitHub.SimRunnerRelease.Version, report, StringComparison.Ordinal);
        Assert.Contains("no runnerfleet.runner-version label", report, StringComparison.Ordinal);
    }

    /// <summary>An x86 snapshot cannot boot a CAX server: found at start-up, the pool is unavailable and overflow serves its jobs.</summary>
    [Fact]
    public async Task A_snapshot_of_the_wrong_architecture_stops_the_pool_at_start_up_and_overflow_takes_the_jobs()
    {
        using var logs = new CapturedLogs();
        var pool = ArmPool(overflow: "emulated");
        pool["Hetzner:Image"] = HetznerSimulator.Images.Single(i => i.Name == "debian-12" && i.Architecture == "x86").Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var fleet = await StartAsync(docker, null, [pool, EmulatedPool()], null, logs);
        fleet.GitHub.QueueJobs("octo/app", s_arm, 2, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        Assert.Empty(fleet.Hetzner.AllServers());
        Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal("aarch64", j.RunnerMachine));
        Assert.Contains(logs.Lines, l => l.Contains("its Hetzner image does not fit its server types", StringComparison.Ordinal) && l.Contains("is x86, server type cax21 is arm", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_rate_limited_create_waits_for_the_reset_and_succeeds()
    {
        await using var fleet = await StartAsync(docker, null, ArmPool());
        fleet.Hetzner.AddFault(new SimHetznerFault { PathPrefix = "/servers", Method = "POST", Code = "rate_limit_exceeded", Count = 1 });
        fleet.GitHub.QueueJobs("octo/app", s_arm, 1, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        Assert.Single(fleet.Hetzner.AllServers());
        Assert.DoesNotContain(await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken), r => r.State == RunnerState.Failed);
    }

    [Fact]
    public async Task A_locked_server_is_deleted_once_its_action_is_done()
    {
        await using var fleet = await StartAsync(docker, null, ArmPool());
        fleet.Hetzner.AddFault(new SimHetznerFault { PathPrefix = "/servers/", Method = "DELETE", Code = "locked", Count = 2 });
        fleet.GitHub.QueueJobs("octo/app", s_arm, 2, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        Assert.All(fleet.Hetzner.AllServers(), s => Assert.True(s.Deleted));
        Assert.All(await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken), r => Assert.Equal(RunnerState.Gone, r.State));
    }

    [Fact]
    public async Task A_quota_error_stops_the_pool_without_a_retry_storm_and_overflow_takes_the_jobs()
    {
        var options = new HetznerSimulatorOptions { BootDelay = TimeSpan.FromMilliseconds(300), ActionDelay = TimeSpan.FromMilliseconds(100), MaxServers = 1 };
        await using var fleet = await StartAsync(docker, options, ArmPool(overflow: "emulated"), EmulatedPool());
        fleet.GitHub.QueueJobs("octo/app", s_arm, 5, TimeSpan.FromSeconds(1));

        await WaitDoneAsync(fleet);

        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        var quota = runners.Where(r => r.FailureReason?.Contains("quota", StringComparison.Ordinal) == true).ToList();
        Assert.NotEmpty(quota);
        Assert.True(quota.Count <= 8, $"{quota.Count} quota failures: a retry storm");
        Assert.True(fleet.Hetzner.AllServers().Count <= 2);
        Assert.True(runners.Count(r => r.Pool == "emulated" && r.State == RunnerState.Gone) >= 3);
        Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal(1, j.Assignments));
    }

    [Fact]
    [Trait("Category", "Faults")]
    public async Task Hetzner_server_errors_and_unavailable_answers_are_retried_without_a_duplicate_server()
    {
        await using var fleet = await StartAsync(docker, null, ArmPool());
        fleet.Hetzner.AddFault(new SimHetznerFault { PathPrefix = "/servers", Method = "POST", Code = "server_error", Count = 2 });
        fleet.Hetzner.AddFault(new SimHetznerFault { PathPrefix = "/actions", Method = "GET", Code = "unavailable", Count = 2 });
        fleet.Hetzner.AddFault(new SimHetznerFault { PathPrefix = "/servers", Method = "GET", Code = "server_error", Count = 2 });
        fleet.Hetzner.AddFault(new SimHetznerFault { PathPrefix = "/servers/", Method = "DELETE", Code = "unavailable", Count = 2 });
        fleet.GitHub.QueueJobs("octo/app", s_arm, 3, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        Assert.Equal(3, fleet.Hetzner.AllServers().Count);
        Assert.All(fleet.Hetzner.AllServers(), s => Assert.True(s.Deleted));
        Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal(1, j.Assignments));
        Assert.All(await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken), r => Assert.Equal(RunnerState.Gone, r.State));
    }

    [Fact]
    [Trait("Category", "Faults")]
    public async Task A_create_that_times_out_but_succeeds_on_hetzner_is_adopted_not_made_twice()
    {
        using var logs = new CapturedLogs();
        await using var fleet = await StartAsync(docker, null, [ArmPool()], new Dictionary<string, string> { ["Hetzner:RequestTimeout"] = "00:00:01" }, logs);
        fleet.Hetzner.AddFault(new SimHetznerFault { PathPrefix = "/servers", Method = "POST", Code = SimHetznerFault.Slow, Delay = TimeSpan.FromSeconds(3), Count = 1 });
        fleet.GitHub.QueueJobs("octo/app", s_arm, 1, TimeSpan.FromMilliseconds(300));

        await WaitDoneAsync(fleet);

        var server = Assert.Single(fleet.Hetzner.AllServers());
        Assert.True(server.Deleted);
        Assert.Equal(1, Assert.Single(fleet.GitHub.AllJobs()).Assignments);
        Assert.Contains(logs.Lines, l => l.Contains("an earlier create attempt made it", StringComparison.Ordinal));
        Assert.All(await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken), r => Assert.Equal(RunnerState.Gone, r.State));
    }

    [Fact]
    public async Task A_spent_daily_budget_stops_new_servers_with_a_log_line_and_a_metric_and_overflow_takes_the_jobs()
    {
        var capped = new List<string>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == RunnerFleet.Controller.Telemetry.MetricNames.SpendingCapReached)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            lock (capped)
            {
                capped.Add(string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}")));
            }
        });
        listener.Start();
        using var logs = new CapturedLogs();
        var pool = ArmPool(overflow: "emulated");
        pool["DailyBudget"] = "0.015"; // a cax21 in fsn1 costs 0.0111 EUR for its first hour: one fits, a second does not
        await using var fleet = await StartAsync(docker, null, [pool, EmulatedPool()], null, logs);
        fleet.GitHub.QueueJobs("octo/app", s_arm, 4, TimeSpan.FromSeconds(1));

        await WaitDoneAsync(fleet);

        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        Assert.Single(fleet.Hetzner.AllServers());
        Assert.Equal(3, runners.Count(r => r.Pool == "emulated" && r.State == RunnerState.Gone && r.JobId is not null));
        Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal(1, j.Assignments));
        Assert.True(logs.Lines.Count(l => l.Contains("Pool \"cax\" reached its daily spending cap", StringComparison.Ordinal)) == 1, string.Join("\n", logs.Lines.Where(l => l.Contains("cap", StringComparison.Ordinal))));
        lock (capped)
        {
            Assert.Equal(["pool=cax"], capped);
        }
    }
}
