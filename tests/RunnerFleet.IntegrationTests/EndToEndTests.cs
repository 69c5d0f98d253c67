using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.IntegrationTests;

/// <summary>Jobs through the whole fleet: simulator → controller → real Docker containers → simulator.</summary>
[Trait("Category", "EndToEnd")]
[Collection(nameof(DockerCollection))]
public sealed class EndToEndTests(DockerEnvironment docker)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Twenty_jobs_over_three_repositories_and_two_label_sets_each_get_one_fresh_jit_runner()
    {
        string[] repos = ["octo/web", "octo/api", "acme/tools"];
        await using var fleet = await FleetUnderTest.StartAsync(docker, repos,
        [
            new() { ["Name"] = "x64", ["Labels:0"] = "linux", ["Labels:1"] = "x64", ["MaxRunners"] = "10" },
            new() { ["Name"] = "gpu", ["Labels:0"] = "linux", ["Labels:1"] = "gpu", ["MaxRunners"] = "10" },
        ]);
        string[][] labelSets = [["self-hosted", "linux", "x64"], ["self-hosted", "linux", "gpu"]];
        for (var i = 0; i < 20; i++)
        {
            fleet.GitHub.QueueJobs(repos[i % 3], labelSets[i % 2], 1, TimeSpan.FromSeconds(1));
        }

        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync(), s_timeout, fleet.DescribeAsync);

        var jobs = fleet.GitHub.AllJobs();
        Assert.Equal(20, jobs.Count);
        Assert.All(jobs, j => Assert.Equal(1, j.Assignments));
        Assert.Empty(fleet.GitHub.AllRunners());
        Assert.Equal(20, fleet.GitHub.Registrations.Count);
        Assert.All(fleet.GitHub.Registrations, r => Assert.Equal("jit", r.Mode));

        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        Assert.Equal(20, runners.Count);
        Assert.All(runners, r =>
        {
            Assert.Equal(RunnerState.Gone, r.State);
            Assert.NotNull(r.CreatedAt);
            Assert.NotNull(r.OnlineAt);
            Assert.NotNull(r.BusyAt);
            Assert.NotNull(r.CompletedAt);
            Assert.NotNull(r.DestroyedAt);
            Assert.True(r.RequestedAt <= r.CreatedAt && r.CreatedAt <= r.DestroyedAt, $"{r.Name}: timestamps out of order");
            Assert.NotNull(r.ProviderResourceId);
        });
        Assert.Equal(jobs.Select(j => j.Id).Order(), runners.Select(r => r.JobId!.Value).Order());
        foreach (var job in jobs)
        {
            var runner = runners.Single(r => r.Name == job.RunnerName);
            Assert.Equal(job.Labels.Contains("gpu") ? "gpu" : "x64", runner.Pool);
            Assert.Equal(job.Run.Repository.FullName, runner.Scope);
        }

        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
    }

    [Fact]
    public async Task A_registration_token_pool_serves_its_jobs_with_ephemeral_runners()
    {
        string[] repos = ["octo/web", "octo/api"];
        await using var fleet = await FleetUnderTest.StartAsync(docker, repos,
        [
            new() { ["Name"] = "tokens", ["Labels:0"] = "linux", ["Labels:1"] = "x64", ["MaxRunners"] = "6", ["Registration"] = "RegistrationToken" },
        ]);
        for (var i = 0; i < 6; i++)
        {
            fleet.GitHub.QueueJobs(repos[i % 2], ["self-hosted", "linux", "x64"], 1, TimeSpan.FromSeconds(1));
        }

        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync(), s_timeout, fleet.DescribeAsync);

        Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal(1, j.Assignments));
        Assert.Equal(6, fleet.GitHub.Registrations.Count);
        Assert.All(fleet.GitHub.Registrations, r => Assert.Equal("token", r.Mode));
        Assert.Empty(fleet.GitHub.AllRunners());
        var runners = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);
        Assert.Equal(6, runners.Count);
        Assert.All(runners, r =>
        {
            Assert.Equal(RunnerState.Gone, r.State);
            Assert.NotNull(r.BusyAt);
            Assert.NotNull(r.CompletedAt);
            Assert.NotNull(r.DestroyedAt);
            Assert.NotNull(r.JobId);
        });
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
    }

    [Fact]
    public async Task A_job_whose_labels_no_pool_serves_gets_no_runner()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/web"],
        [
            new() { ["Name"] = "x64", ["Labels:0"] = "linux", ["Labels:1"] = "x64", ["MaxRunners"] = "4" },
        ]);
        var windows = fleet.GitHub.QueueJobs("octo/web", ["self-hosted", "windows"], 1, TimeSpan.FromSeconds(1)).Jobs[0];
        var linux = fleet.GitHub.QueueJobs("octo/web", ["self-hosted", "linux"], 1, TimeSpan.FromSeconds(1)).Jobs[0];

        // The served job finishing proves the controller saw both jobs and planned several times since.
        await FleetUnderTest.WaitUntilAsync(async () => linux.Status == "completed" && await fleet.AllFinalAsync(), s_timeout, fleet.DescribeAsync);
        var stored = (await fleet.Store.ListJobsAsync(null, 10, TestContext.Current.CancellationToken)).Single(j => j.Id == windows.Id);

        Assert.Null(stored.Pool);
        Assert.Equal(JobStatus.Queued, stored.Status);
        Assert.Equal("queued", windows.Status);
        Assert.Equal(0, windows.Assignments);
        Assert.Single(await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken));
    }
}

/// <summary>The Docker tests run one at a time: two cores, one engine.</summary>
[CollectionDefinition(nameof(DockerCollection), DisableParallelization = true)]
public sealed class DockerCollection;
