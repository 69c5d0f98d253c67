using System.Diagnostics;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.IntegrationTests;

/// <summary>300 jobs on the real Docker engine while GitHub keeps failing at random: bounded, and nothing left over.</summary>
[Trait("Category", "Soak")]
[Collection(nameof(DockerCollection))]
public sealed class SoakTests(DockerEnvironment docker)
{
    [Fact]
    public async Task Three_hundred_jobs_with_random_github_faults_end_with_every_job_served_once_and_zero_leftovers()
    {
        string[] repos = ["octo/web", "octo/api", "acme/tools"];
        await using var fleet = await FleetUnderTest.StartAsync(docker, repos,
        [
            new() { ["Name"] = "jit", ["Labels:0"] = "linux", ["Labels:1"] = "x64", ["MaxRunners"] = "10" },
            new() { ["Name"] = "token", ["Labels:0"] = "linux", ["Labels:1"] = "tok", ["MaxRunners"] = "4", ["Registration"] = "RegistrationToken" },
        ]);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 30; i++)
        {
            fleet.GitHub.QueueJobs(repos[i % 3], i % 4 == 0 ? ["self-hosted", "linux", "tok"] : ["self-hosted", "linux", "x64"], 10, TimeSpan.FromMilliseconds(200));
        }

        using var stop = new CancellationTokenSource();
        var faults = Task.Run(async () =>
        {
            // Seeded, so a failure can be replayed.
            var random = new Random(20261123);
            (string Prefix, int Status, int? RetryAfter)[] kinds =
            [
                ("/repos/octo/web/actions/runs", 502, null), ("/repos/acme/tools/actions/runs", 503, null),
                ("/repos/octo/api/actions/runners/generate-jitconfig", 500, null), ("/repos/octo/web/actions/runners/registration-token", 429, 1),
                ("/repos/acme/tools/actions/runners", 502, null), ("/repos/octo/api/actions/jobs", 504, null),
            ];
            while (!stop.IsCancellationRequested)
            {
                var (prefix, status, retryAfter) = kinds[random.Next(kinds.Length)];
                fleet.GitHub.AddFault(new SimFault { PathPrefix = prefix, Status = status, Count = random.Next(1, 3), RetryAfterSeconds = retryAfter });
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 1500)), CancellationToken.None);
            }
        }, TestContext.Current.CancellationToken);

        try
        {
            await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync() && fleet.GitHub.AllRunners().Count == 0,
                // Generous: the machine may be busy (3× slower must still pass); the loop ends as soon as all is done.
                TimeSpan.FromMinutes(15), fleet.DescribeAsync);
        }
        finally
        {
            await stop.CancelAsync();
            await faults;
        }

        var jobs = fleet.GitHub.AllJobs();
        Assert.Equal(300, jobs.Count);
        Assert.All(jobs, j => Assert.Equal(1, j.Assignments));
        var runners = await fleet.Store.ListRunnersAsync(1000, CancellationToken.None);
        Assert.Equal(300, runners.Count(r => r.State == RunnerState.Gone && r.JobId is not null));
        Assert.All(runners, r => Assert.True(RunnerStateMachine.IsFinal(r.State)));
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
        TestContext.Current.SendDiagnosticMessage($"soak: 300 jobs in {clock.Elapsed.TotalSeconds:F0} s, {runners.Count} runner records ({runners.Count(r => r.State == RunnerState.Failed)} failed provisions)");
    }
}
