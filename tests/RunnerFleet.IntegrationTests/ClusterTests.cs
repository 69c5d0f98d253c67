using Npgsql;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// Two controller processes share one fleet through PostgreSQL (the store and Quartz's clustered job
/// store); one is killed midway and the other carries on.
/// </summary>
[Trait("Category", "Cluster")]
[Collection(nameof(DockerCollection))]
public sealed class ClusterTests(DockerEnvironment docker)
{
    private const string Variable = "RUNNERFLEET_TEST_POSTGRES";
    private static readonly string[] s_linux = ["self-hosted", "linux"];
    private static readonly string[] s_repositories = ["octo/a", "octo/b", "octo/c", "octo/d"];

    [Fact]
    public async Task Two_controllers_serve_a_hundred_jobs_exactly_once_and_one_survives_the_others_kill()
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } admin)
        {
            Assert.Skip($"{Variable} is not set (scripts/test.sh sets it after starting PostgreSQL)");
            return;
        }

        var schema = $"c_{Guid.NewGuid():N}";
        await ExecAsync(admin, $"CREATE SCHEMA {schema}");
        var connectionString = new NpgsqlConnectionStringBuilder(admin) { SearchPath = schema }.ConnectionString;
        var simPort = FleetUnderTest.FreePort();
        var runnerUrl = $"http://{docker.Gateway}:{simPort}";
        await using var sim = await SandboxServer.StartAsync([$"http://127.0.0.1:{simPort}", runnerUrl], new GitHubSimulatorOptions { RunnerBaseUrl = runnerUrl, OfflineAfter = TimeSpan.FromSeconds(5) }, null, TimeProvider.System, null, TestContext.Current.CancellationToken);
        foreach (var repo in s_repositories)
        {
            sim.Simulator.EnsureRepository(repo);
        }

        var fleet = $"cl{Guid.NewGuid():N}"[..10];
        var (portA, portB) = (FleetUnderTest.FreePort(), FleetUnderTest.FreePort());
        // GitHub delivers each event to both: the shared store's delivery ids keep them from counting twice.
        sim.Simulator.AddWebhook(new Uri($"http://127.0.0.1:{portA}/webhooks/github"), "cluster-secret-0123456789abcdef0123456789");
        sim.Simulator.AddWebhook(new Uri($"http://127.0.0.1:{portB}/webhooks/github"), "cluster-secret-0123456789abcdef0123456789");
        using var store = new PostgresFleetStore(connectionString, TimeProvider.System);
        try
        {
            await using var a = ControllerProcess.Start(Settings(portA));
            await using var b = ControllerProcess.Start(Settings(portB));
            foreach (var repo in s_repositories)
            {
                sim.Simulator.QueueJobs(repo, s_linux, 25, TimeSpan.FromMilliseconds(500));
            }

            // Both controllers are checked in to one Quartz cluster; midway, controller A dies without a word.
            await FleetUnderTest.WaitUntilAsync(async () => sim.Simulator.AllJobs().Count(j => j.Status == "completed") >= 30 && await ScalarAsync(connectionString, "SELECT COUNT(*) FROM qrtz_scheduler_state") == 2,
                TimeSpan.FromMinutes(2), () => Task.FromResult($"A:\n{Tail(a)}\nB:\n{Tail(b)}"));
            a.Kill9();
            await a.WaitForExitAsync(CancellationToken.None);

            await FleetUnderTest.WaitUntilAsync(async () =>
                    sim.Simulator.AllJobs().All(j => j.Status == "completed")
                    && (await store.ListRunnersAsync(1000, CancellationToken.None)).All(r => RunnerStateMachine.IsFinal(r.State))
                    && sim.Simulator.AllRunners().Count == 0
                    && (await DockerEnvironment.ContainersAsync(fleet)).Count == 0,
                TimeSpan.FromMinutes(3), async () => $"{await DescribeAsync()}\nB:\n{Tail(b)}");

            var jobs = sim.Simulator.AllJobs();
            Assert.Equal(100, jobs.Count);
            Assert.All(jobs, j => Assert.Equal(1, j.Assignments));
            var runners = await store.ListRunnersAsync(1000, TestContext.Current.CancellationToken);
            var served = runners.Where(r => r.JobId is not null).ToList();
            Assert.Equal(100, served.Count);
            Assert.Equal(100, served.Select(r => r.JobId).Distinct().Count());
            // Runners without a job are at most those A was making when it died (a pool's MaxRunners).
            Assert.InRange(runners.Count - served.Count, 0, 8);
            Assert.Contains("took job", b.Output, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var id in await DockerEnvironment.ContainersAsync(fleet))
            {
                await DockerEnvironment.DockerAsync("rm", "-f", id);
            }

            NpgsqlConnection.ClearAllPools();
            await ExecAsync(admin, $"DROP SCHEMA IF EXISTS {schema} CASCADE");
        }

        async Task<string> DescribeAsync()
        {
            var runners = await store.ListRunnersAsync(1000, CancellationToken.None);
            return $"runners by state: {string.Join(", ", runners.GroupBy(r => r.State).Select(g => $"{g.Key}={g.Count()}"))}; " +
                   $"sim jobs: {string.Join(", ", sim.Simulator.AllJobs().GroupBy(j => j.Status).Select(g => $"{g.Key}={g.Count()}"))}; sim runners: {sim.Simulator.AllRunners().Count}; containers: {(await DockerEnvironment.ContainersAsync(fleet)).Count}";
        }

        Dictionary<string, string> Settings(int port)
        {
            var s = new Dictionary<string, string>
            {
                ["Urls"] = $"http://127.0.0.1:{port}",
                ["Store:Provider"] = "postgres",
                ["ConnectionStrings:Fleet"] = connectionString,
                ["GitHub:ApiUrl"] = sim.BaseUrl.ToString(),
                ["GitHub:WebUrl"] = runnerUrl,
                ["GitHub:Token"] = "sandbox-token",
                ["GitHub:WebhookSecret"] = "cluster-secret-0123456789abcdef0123456789",
                ["GitHub:PollInterval"] = "00:00:02",
                ["Fleet:Name"] = fleet,
                ["Fleet:PlanInterval"] = "00:00:01",
                ["Fleet:ReapInterval"] = "00:00:02",
                ["Fleet:ReconcileInterval"] = "00:00:10",
                ["Fleet:Pools:0:Name"] = "linux",
                ["Fleet:Pools:0:Labels:0"] = "linux",
                ["Fleet:Pools:0:Provider"] = "docker",
                ["Fleet:Pools:0:MaxRunners"] = "8",
                ["Fleet:Pools:0:Docker:Image"] = DockerEnvironment.Image,
                ["Fleet:Pools:0:Docker:Network"] = docker.Network,
                ["Fleet:Pools:0:Docker:Cpus"] = "0.25",
                ["Fleet:Pools:0:Docker:MemoryMb"] = "64",
            };
            for (var i = 0; i < s_repositories.Length; i++)
            {
                s[$"GitHub:Repositories:{i}"] = s_repositories[i];
            }

            return s;
        }
    }

    private static string Tail(ControllerProcess p) => p.Output[^Math.Min(3000, p.Output.Length)..];

    private static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }
}
