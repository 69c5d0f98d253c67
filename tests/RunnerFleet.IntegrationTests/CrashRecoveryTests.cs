using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Store;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// kill -9 of the controller (a separate process, on the real Docker engine) at each point of a runner's
/// life, then a restart on the same store: everything started is finished, nothing is left behind.
/// </summary>
[Trait("Category", "Faults")]
[Collection(nameof(DockerCollection))]
public sealed class CrashRecoveryTests(DockerEnvironment docker)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    [Theory]
    [InlineData(CrashPoints.AfterRegistration)]
    [InlineData(CrashPoints.AfterCreate)]
    [InlineData(CrashPoints.DuringTeardown)]
    public async Task A_controller_killed_at_a_point_of_a_runners_life_finishes_everything_after_a_restart(string point)
    {
        await using var world = await World.StartAsync(docker);
        world.GitHub.QueueJobs("octo/app", ["self-hosted", "linux"], 3, TimeSpan.FromSeconds(1));

        await using (var first = ControllerProcess.Start(world.Settings(crashAt: point)))
        {
            using var cts = new CancellationTokenSource(s_timeout);
            await first.WaitForExitAsync(cts.Token);
            Assert.Equal(137, first.ExitCode);
            Assert.Contains($"Testing:CrashAt={point}", first.Output, StringComparison.Ordinal);
        }

        await using var second = ControllerProcess.Start(world.Settings());
        await world.AssertEverythingFinishedAsync(3, second);
    }

    [Fact]
    public async Task A_controller_killed_while_jobs_run_adopts_the_busy_runners_after_a_restart()
    {
        await using var world = await World.StartAsync(docker);
        var run = world.GitHub.QueueJobs("octo/app", ["self-hosted", "linux"], 3, TimeSpan.FromSeconds(4));

        await using (var first = ControllerProcess.Start(world.Settings()))
        {
            await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(run.Jobs.Any(j => j.Status == "in_progress")), s_timeout, () => Task.FromResult(first.Output));
            first.Kill9();
            await first.WaitForExitAsync(CancellationToken.None);
        }

        // The containers keep running their jobs while no controller watches.
        Assert.NotEmpty(await DockerEnvironment.ContainersAsync(world.Fleet));

        await using var second = ControllerProcess.Start(world.Settings());
        await world.AssertEverythingFinishedAsync(3, second);
    }

    /// <summary>Simulator, store file and settings shared by the controller processes of one test.</summary>
    private sealed class World : IAsyncDisposable
    {
        private readonly SandboxServer _sim;
        private readonly string _db;
        private readonly int _port = FleetUnderTest.FreePort();
        private readonly string _runnerUrl;

        private World(SandboxServer sim, string fleet, string db, string runnerUrl)
        {
            _sim = sim;
            Fleet = fleet;
            _db = db;
            _runnerUrl = runnerUrl;
            sim.Simulator.AddWebhook(new Uri($"http://127.0.0.1:{_port}/webhooks/github"), "crash-test-secret-0123456789abcdef01234567");
        }

        public string Fleet { get; }

        public GitHubSimulator GitHub => _sim.Simulator;

        public static async Task<World> StartAsync(DockerEnvironment docker)
        {
            var port = FleetUnderTest.FreePort();
            var runnerUrl = $"http://{docker.Gateway}:{port}";
            var sim = await SandboxServer.StartAsync([$"http://127.0.0.1:{port}", runnerUrl], new GitHubSimulatorOptions { RunnerBaseUrl = runnerUrl, OfflineAfter = TimeSpan.FromSeconds(5) });
            sim.Simulator.EnsureRepository("octo/app");
            var fleet = $"cr{Guid.NewGuid():N}"[..10];
            return new World(sim, fleet, Path.Combine(Path.GetTempPath(), $"{fleet}.db"), runnerUrl) { Network = docker.Network };
        }

        public required string Network { get; init; }

        public Dictionary<string, string> Settings(string? crashAt = null)
        {
            var s = new Dictionary<string, string>
            {
                ["Urls"] = $"http://127.0.0.1:{_port}",
                ["ConnectionStrings:Fleet"] = $"Data Source={_db}",
                ["GitHub:ApiUrl"] = _sim.BaseUrl.ToString(),
                ["GitHub:WebUrl"] = _runnerUrl,
                ["GitHub:Token"] = "sandbox-token",
                ["GitHub:WebhookSecret"] = "crash-test-secret-0123456789abcdef01234567",
                ["GitHub:PollInterval"] = "00:00:01",
                ["GitHub:Repositories:0"] = "octo/app",
                ["Fleet:Name"] = Fleet,
                ["Fleet:PlanInterval"] = "00:00:01",
                ["Fleet:ReapInterval"] = "00:00:01",
                ["Fleet:ReconcileInterval"] = "00:00:03",
                ["Fleet:Pools:0:Name"] = "linux",
                ["Fleet:Pools:0:Labels:0"] = "linux",
                ["Fleet:Pools:0:Provider"] = "docker",
                ["Fleet:Pools:0:MaxRunners"] = "3",
                ["Fleet:Pools:0:Docker:Image"] = DockerEnvironment.Image,
                ["Fleet:Pools:0:Docker:Network"] = Network,
                ["Fleet:Pools:0:Docker:Cpus"] = "0.25",
                ["Fleet:Pools:0:Docker:MemoryMb"] = "64",
                ["Serilog:MinimumLevel:Default"] = "Information",
            };
            if (crashAt is not null)
            {
                s["Testing:CrashAt"] = crashAt;
            }

            return s;
        }

        /// <summary>Every job served exactly once, every record final, no container, no GitHub runner.</summary>
        public async Task AssertEverythingFinishedAsync(int jobs, ControllerProcess controller)
        {
            var store = new SqliteFleetStore($"Data Source={_db}", TimeProvider.System);
            async Task<string> Describe()
            {
                var runners = await store.ListRunnersAsync(100, CancellationToken.None);
                return $"runners: {string.Join(", ", runners.Select(r => $"{r.Name}={r.State}({r.FailureReason})"))}; sim jobs: {string.Join(", ", GitHub.AllJobs().Select(j => j.Status))}; " +
                       $"sim runners: {GitHub.AllRunners().Count}; containers: {(await DockerEnvironment.ContainersAsync(Fleet)).Count}\n{controller.Output[^Math.Min(4000, controller.Output.Length)..]}";
            }

            await FleetUnderTest.WaitUntilAsync(async () =>
                GitHub.AllJobs().All(j => j.Status == "completed")
                && (await store.ListRunnersAsync(100, CancellationToken.None)) is var all && all.All(r => RunnerStateMachine.IsFinal(r.State))
                && all.Count(r => r.State == RunnerState.Gone && r.JobId is not null) == jobs
                && (await DockerEnvironment.ContainersAsync(Fleet)).Count == 0
                && GitHub.AllRunners().Count == 0, s_timeout, Describe);

            Assert.Equal(jobs, GitHub.AllJobs().Count);
            Assert.All(GitHub.AllJobs(), j => Assert.Equal(1, j.Assignments));
            var records = await store.ListRunnersAsync(100, CancellationToken.None);
            Assert.Equal(jobs, records.Count(r => r.State == RunnerState.Gone && r.JobId is not null));
            Assert.All(records.Where(r => r.State == RunnerState.Failed), r => Assert.NotNull(r.DestroyedAt));
        }

        public async ValueTask DisposeAsync()
        {
            await _sim.DisposeAsync();
            foreach (var id in await DockerEnvironment.ContainersAsync(Fleet))
            {
                await DockerEnvironment.DockerAsync("rm", "-f", id);
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in new[] { _db, _db + "-wal", _db + "-shm" })
            {
                File.Delete(f);
            }
        }
    }
}
