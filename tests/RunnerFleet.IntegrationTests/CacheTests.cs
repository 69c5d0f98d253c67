using System.Net.Http.Json;
using System.Text.Json;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Store;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// Warm caches on a real Docker engine: each runner mounts its scope's cache under an overlayfs layer of its own,
/// and the controller merges the layer back only for a trusted job (a successful push, schedule or manual run of
/// the default branch, in the repository itself). The jobs are shell scripts the simulated runner runs.
/// </summary>
[Trait("Category", "Cache")]
[Collection(nameof(DockerCollection))]
public sealed class CacheTests(DockerEnvironment docker) : IDisposable
{
    private static readonly string[] s_labels = ["self-hosted", "linux", "cached"];
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(3);
    private readonly string _cacheRoot = Directory.CreateTempSubdirectory("rf-cache-").FullName;

    private const string Cache = "/home/runner/.cache";

    [Fact]
    public async Task A_trusted_jobs_writes_and_deletions_reach_the_next_job_of_its_repository_and_no_other_repository()
    {
        await using var fleet = await StartAsync(["octo/app", "octo/other"]);

        await RunAsync(fleet, "octo/app", $"echo one > {Cache}/a; mkdir -p {Cache}/d; echo f > {Cache}/d/f; echo old > {Cache}/gone");
        var second = await RunAsync(fleet, "octo/app", $"cat {Cache}/a; rm {Cache}/gone; echo two > {Cache}/b");
        Assert.Equal("one", second.Output!.Trim());
        var third = await RunAsync(fleet, "octo/app", $"ls {Cache}; cat {Cache}/d/f");
        Assert.Equal(["a", "b", "d", "f"], Lines(third.Output));

        // A folder deleted and made again (overlayfs marks it opaque): nothing of the old one survives.
        await RunAsync(fleet, "octo/app", $"rm -rf {Cache}/d; mkdir {Cache}/d; echo n > {Cache}/d/new");
        var fourth = await RunAsync(fleet, "octo/app", $"ls {Cache}/d");
        Assert.Equal(["new"], Lines(fourth.Output));

        // Another repository's cache is its own: empty.
        var other = await RunAsync(fleet, "octo/other", $"ls -A {Cache}; echo end");
        Assert.Equal(["end"], Lines(other.Output));

        var stats = await CacheStatsAsync(fleet);
        // At least: on a slow machine a runner more than the jobs may be made (and discarded with no job).
        Assert.True(stats.GetProperty("hits").GetInt32() >= 4);
        Assert.True(stats.GetProperty("writeBacks").GetInt32() >= 6);
        Assert.Equal(2, stats.GetProperty("scopes").GetInt32());
        Assert.True(stats.GetProperty("sizeBytes").GetInt64() > 0);
        AssertNoLayersLeft();
    }

    [Fact]
    public async Task Writes_and_deletions_of_pull_request_fork_branch_and_failed_jobs_are_discarded()
    {
        await using var fleet = await StartAsync(["octo/app"], allowForks: true);
        await RunAsync(fleet, "octo/app", $"echo trusted > {Cache}/a; echo keep > {Cache}/keep");

        string Tamper(string mark) => $"echo {mark} > {Cache}/a; rm {Cache}/keep; echo {mark} > {Cache}/planted-{mark}";
        await RunAsync(fleet, "octo/app", Tamper("pr"), @event: "pull_request", headBranch: "feature");
        await RunAsync(fleet, "octo/app", Tamper("fork"), @event: "pull_request", headRepository: "mallory/app", headBranch: "main");
        await RunAsync(fleet, "octo/app", Tamper("target"), @event: "pull_request_target");
        await RunAsync(fleet, "octo/app", Tamper("branch"), @event: "push", headBranch: "feature");
        await RunAsync(fleet, "octo/app", Tamper("tag"), @event: "push", headBranch: "main", tag: true);
        var failed = await RunAsync(fleet, "octo/app", Tamper("failed") + "; exit 1");
        Assert.Equal("failure", failed.Conclusion);

        var after = await RunAsync(fleet, "octo/app", $"cat {Cache}/a {Cache}/keep; ls {Cache}");
        Assert.Equal(["trusted", "keep", "a", "keep"], Lines(after.Output));

        var stats = await CacheStatsAsync(fleet);
        Assert.True(stats.GetProperty("discards").GetInt32() >= 6);
        Assert.True(stats.GetProperty("writeBacks").GetInt32() >= 2);
        AssertNoLayersLeft();
    }

    [Fact]
    public async Task Two_trusted_jobs_finishing_together_both_land_whole()
    {
        await using var fleet = await StartAsync(["octo/app"]);
        // 4 MiB each, of a pattern the reader checks; and one file both write, whose last writer wins whole.
        var write = $"dd if=/dev/zero bs=1024 count=4096 2>/dev/null | tr '\\0' x > {Cache}/job-$GITHUB_JOB; " +
                    $"dd if=/dev/zero bs=1024 count=1024 2>/dev/null | tr '\\0' $((GITHUB_JOB % 10)) > {Cache}/shared";
        var run = fleet.GitHub.QueueJobs("octo/app", s_labels, 2, TimeSpan.FromSeconds(1), script: write);
        await WaitDoneAsync(fleet, run);
        var ids = run.Jobs.Select(j => j.Id).ToList();

        // The shared file is one writer's whole: 1 MiB of the one digit its first byte is.
        var check = await RunAsync(fleet, "octo/app",
            string.Join("; ", ids.Select(id => $"wc -c < {Cache}/job-{id}; tr -d x < {Cache}/job-{id} | wc -c")) + $"; wc -c < {Cache}/shared; d=$(head -c 1 {Cache}/shared); tr -d \"$d\" < {Cache}/shared | wc -c; echo $d");
        var lines = Lines(check.Output);
        Assert.Equal(["4194304", "0", "4194304", "0", "1048576", "0"], lines[..6]);
        Assert.Contains(lines[6], ids.Select(id => (id % 10).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True((await CacheStatsAsync(fleet)).GetProperty("writeBacks").GetInt32() >= 3);
    }

    [Fact]
    public async Task Eviction_keeps_a_scope_under_its_size_and_a_dropped_scope_is_gone_from_disk()
    {
        await using var fleet = await StartAsync(["octo/app"], maxSizeMb: 3, adminToken: "cache-admin-token-0123456789abcdef0123456789");
        // Three 1.5 MiB files written by three jobs, oldest first: the limit keeps the newest whole ones.
        foreach (var name in new[] { "old", "mid", "new" })
        {
            await RunAsync(fleet, "octo/app", $"dd if=/dev/zero of={Cache}/{name} bs=1024 count=1536 2>/dev/null; sleep 1");
        }

        var listed = await RunAsync(fleet, "octo/app", $"ls {Cache}");
        Assert.Equal(["mid", "new"], Lines(listed.Output));
        var stats = await CacheStatsAsync(fleet);
        Assert.InRange(stats.GetProperty("sizeBytes").GetInt64(), 1, 3L * 1024 * 1024);

        var scope = Path.Combine(_cacheRoot, fleet.Fleet, "cached", "repos", "octo", "app");
        Assert.True(Directory.Exists(scope));
        using var http = new HttpClient { BaseAddress = fleet.ControllerUrl };
        using var request = new HttpRequestMessage(HttpMethod.Delete, "/api/pools/cached/cache?repository=octo/app");
        request.Headers.Authorization = new("Bearer", "cache-admin-token-0123456789abcdef0123456789");
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.False(Directory.Exists(scope));
        Assert.Empty(Directory.Exists(Path.Combine(_cacheRoot, fleet.Fleet, ".dropped")) ? Directory.EnumerateFileSystemEntries(Path.Combine(_cacheRoot, fleet.Fleet, ".dropped")) : []);

        var fresh = await RunAsync(fleet, "octo/app", $"ls -A {Cache}; echo end");
        Assert.Equal(["end"], Lines(fresh.Output));
    }

    [Fact]
    public async Task A_controller_killed_during_a_write_back_restarts_with_the_previous_generation_intact()
    {
        var port = FleetUnderTest.FreePort();
        var runnerUrl = $"http://{docker.Gateway}:{port}";
        await using var sim = await SandboxServer.StartAsync([$"http://127.0.0.1:{port}", runnerUrl], new GitHubSimulatorOptions { RunnerBaseUrl = runnerUrl }, ct: TestContext.Current.CancellationToken);
        sim.Simulator.EnsureRepository("octo/app");
        var controllerPort = FleetUnderTest.FreePort();
        const string secret = "cache-crash-secret-0123456789abcdef0123";
        sim.Simulator.AddWebhook(new Uri($"http://127.0.0.1:{controllerPort}/webhooks/github"), secret);
        var fleetName = $"cc{Guid.NewGuid():N}"[..10];
        var db = Path.Combine(Path.GetTempPath(), $"{fleetName}.db");
        Dictionary<string, string> Settings(string? crashAt = null)
        {
            var s = new Dictionary<string, string>
            {
                ["Urls"] = $"http://127.0.0.1:{controllerPort}",
                ["ConnectionStrings:Fleet"] = $"Data Source={db}",
                ["GitHub:ApiUrl"] = sim.BaseUrl.ToString(),
                ["GitHub:WebUrl"] = runnerUrl,
                ["GitHub:Token"] = "sandbox-token",
                ["GitHub:WebhookSecret"] = secret,
                ["GitHub:PollInterval"] = "00:00:01",
                ["GitHub:Repositories:0"] = "octo/app",
                ["Fleet:Name"] = fleetName,
                ["Fleet:PlanInterval"] = "00:00:01",
                ["Fleet:ReapInterval"] = "00:00:01",
                ["Fleet:ReconcileInterval"] = "00:00:03",
                ["Fleet:CacheDirectory"] = _cacheRoot,
                ["Docker:AllowedHostPorts:0"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Serilog:MinimumLevel:Default"] = "Information",
            };
            foreach (var (k, v) in PoolKeys(maxSizeMb: 100, allowForks: false))
            {
                s[$"Fleet:Pools:0:{k}"] = v;
            }

            if (crashAt is not null)
            {
                s["Testing:CrashAt"] = crashAt;
            }

            return s;
        }

        try
        {
            var scope = Path.Combine(_cacheRoot, fleetName, "cached", "repos", "octo", "app");
            await using (var first = ControllerProcess.Start(Settings()))
            {
                await RunInAsync(sim.Simulator, db, $"echo first > {Cache}/a", () => first.Output);
            }

            var before = new FileInfo(Path.Combine(scope, "current")).LinkTarget;
            await using (var crashing = ControllerProcess.Start(Settings(CrashPoints.DuringCacheWriteBack)))
            {
                sim.Simulator.QueueJobs("octo/app", s_labels, 1, TimeSpan.FromSeconds(1), script: $"echo second > {Cache}/a; echo b > {Cache}/b");
                using var cts = new CancellationTokenSource(s_timeout);
                await crashing.WaitForExitAsync(cts.Token);
                Assert.Equal(137, crashing.ExitCode);
            }

            // Killed with the next generation built but not current: the previous one is current and whole.
            Assert.Equal(before, new FileInfo(Path.Combine(scope, "current")).LinkTarget);
            Assert.Equal("first\n", File.ReadAllText(Path.Combine(scope, before!, Directory.EnumerateDirectories(Path.Combine(scope, before!)).Select(Path.GetFileName).Single()!, "a")));

            await using var restarted = ControllerProcess.Start(Settings());
            var third = await RunInAsync(sim.Simulator, db, $"cat {Cache}/a; ls {Cache}", () => restarted.Output);
            Assert.Equal(["first", "a"], Lines(third.Output));
            Assert.Contains("the controller stopped during its write-back", restarted.Output, StringComparison.Ordinal);
            // Leftovers of the interrupted merge (its half-made generation, its layer) are collected.
            await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(Directory.EnumerateDirectories(scope, "g*").Count() == 1 && !Directory.EnumerateFileSystemEntries(Path.Combine(scope, "layers")).Any()),
                s_timeout, () => Task.FromResult(string.Join(", ", Directory.EnumerateFileSystemEntries(scope, "*", SearchOption.AllDirectories))));
        }
        finally
        {
            foreach (var id in await DockerEnvironment.ContainersAsync(fleetName))
            {
                await DockerEnvironment.DockerAsync("rm", "-f", id);
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in new[] { db, db + "-wal", db + "-shm" })
            {
                File.Delete(f);
            }
        }
    }

    public void Dispose()
    {
        // The tests' caches hold files of the runner's user (uid 1001) and overlayfs whiteouts: removed as root.
        Directory.Delete(_cacheRoot, recursive: true);
    }

    private Task<FleetUnderTest> StartAsync(string[] repositories, bool allowForks = false, long maxSizeMb = 100, string? adminToken = null)
    {
        var extra = new Dictionary<string, string> { ["Fleet:CacheDirectory"] = _cacheRoot };
        if (adminToken is not null)
        {
            extra["Admin:Token"] = adminToken;
        }

        return FleetUnderTest.StartAsync(docker, repositories, [PoolKeys(maxSizeMb, allowForks)], extra: extra);
    }

    private static Dictionary<string, string> PoolKeys(long maxSizeMb, bool allowForks) => new()
    {
        ["Name"] = "cached",
        ["Labels:0"] = "linux",
        ["Labels:1"] = "cached",
        ["Provider"] = "docker",
        ["MaxRunners"] = "2",
        ["Docker:Image"] = DockerEnvironment.Image,
        ["Docker:Cpus"] = "0.5",
        ["Docker:MemoryMb"] = "128",
        ["AllowForkPullRequests"] = allowForks ? "true" : "false",
        ["Docker:RequireFirewall"] = "false",
        ["Cache:Paths:0"] = Cache,
        ["Cache:MaxSizeMb"] = maxSizeMb.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static async Task<SimJob> RunAsync(FleetUnderTest fleet, string repository, string script, string? @event = null, string? headRepository = null, string? headBranch = null, bool tag = false)
    {
        var run = fleet.GitHub.QueueJobs(repository, s_labels, 1, TimeSpan.FromSeconds(1), @event: @event, headRepository: headRepository, headBranch: headBranch, script: script, tag: tag);
        await WaitDoneAsync(fleet, run);
        return run.Jobs[0];
    }

    /// <summary>The run's jobs completed, and every runner final: torn down, so its cache layer is settled.</summary>
    private static Task WaitDoneAsync(FleetUnderTest fleet, SimWorkflowRun run) =>
        FleetUnderTest.WaitUntilAsync(async () => run.Jobs.All(j => j.Status == "completed") && await fleet.AllFinalAsync()
            && (await fleet.Store.ListRunnersAsync(1000, CancellationToken.None)).Count(r => r.JobId is not null) >= fleet.GitHub.AllJobs().Count(j => j.Status == "completed"),
            s_timeout, async () => $"{await fleet.DescribeAsync()}; outputs: {string.Join(" | ", run.Jobs.Select(j => j.Output))}");

    private static async Task<SimJob> RunInAsync(GitHubSimulator sim, string db, string script, Func<string> output)
    {
        var run = sim.QueueJobs("octo/app", s_labels, 1, TimeSpan.FromSeconds(1), script: script);
        var store = new SqliteFleetStore($"Data Source={db}", TimeProvider.System);
        await FleetUnderTest.WaitUntilAsync(async () => run.Jobs.All(j => j.Status == "completed")
            && (await store.ListRunnersAsync(100, CancellationToken.None)) is var all && all.Count(r => r.JobId == run.Jobs[0].Id && r.State == RunnerState.Gone) == 1
            && all.All(r => RunnerStateMachine.IsFinal(r.State)),
            s_timeout, () => Task.FromResult(output()[^Math.Min(4000, output().Length)..]));
        return run.Jobs[0];
    }

    private static async Task<JsonElement> CacheStatsAsync(FleetUnderTest fleet)
    {
        using var http = new HttpClient { BaseAddress = fleet.ControllerUrl };
        var pools = await http.GetFromJsonAsync<JsonElement>("/api/pools");
        return pools.EnumerateArray().Single(p => p.GetProperty("name").GetString() == "cached").GetProperty("cache");
    }

    private static string[] Lines(string? output) => (output ?? string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private void AssertNoLayersLeft() =>
        Assert.Empty(Directory.EnumerateDirectories(_cacheRoot, "layers", SearchOption.AllDirectories).SelectMany(Directory.EnumerateFileSystemEntries));
}
