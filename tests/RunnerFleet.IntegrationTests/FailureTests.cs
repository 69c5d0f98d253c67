using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.IntegrationTests;

/// <summary>What a user sees when something goes wrong, and what never leaks.</summary>
[Trait("Category", "EndToEnd")]
[Collection(nameof(DockerCollection))]
public sealed class FailureTests(DockerEnvironment docker)
{
    [Fact]
    public async Task A_provider_failure_marks_the_runner_failed_cleans_up_and_backs_off()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/web"],
        [
            new() { ["Name"] = "broken", ["Labels:0"] = "linux", ["MaxRunners"] = "3", ["Docker:Image"] = "runnerfleet/no-such-image:latest" },
        ]);
        fleet.GitHub.QueueJobs("octo/web", ["self-hosted", "linux"], 3, TimeSpan.FromSeconds(1));

        await FleetUnderTest.WaitUntilAsync(async () =>
        {
            var runners = await fleet.Store.ListRunnersAsync(100, CancellationToken.None);
            return runners.Count > 0 && runners.All(r => r.State == RunnerState.Failed && r.DestroyedAt is not null);
        }, TimeSpan.FromMinutes(1), fleet.DescribeAsync);

        // Let the plan loop tick a few more times (1 s interval): the backoff (5 s, doubling) holds new attempts.
        var ticks = fleet.GitHub.NotModifiedResponses;
        await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(fleet.GitHub.NotModifiedResponses >= ticks + 4), TimeSpan.FromSeconds(30), () => Task.FromResult("no polls"));
        var failed = await fleet.Store.ListRunnersAsync(100, TestContext.Current.CancellationToken);

        Assert.All(failed, r =>
        {
            Assert.Equal(RunnerState.Failed, r.State);
            Assert.Contains("no-such-image", r.FailureReason, StringComparison.Ordinal);
        });
        Assert.InRange(failed.Count, 1, 6);
        Assert.Empty(fleet.GitHub.AllRunners());
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
        Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal("queued", j.Status));
    }

    [Fact]
    public async Task No_token_jit_config_or_webhook_secret_reaches_a_log_a_trace_or_the_api()
    {
        var logs = new CapturedLogs();
        var traces = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => traces.Enqueue($"{a.Source.Name} {a.DisplayName} {a.StatusDescription} {string.Join(' ', a.TagObjects.Select(t => $"{t.Key}={t.Value}"))} {string.Join(' ', a.Events.Select(e => e.Name))}"),
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/web"],
        [
            new() { ["Name"] = "jit", ["Labels:0"] = "linux", ["Labels:1"] = "x64", ["MaxRunners"] = "3" },
            new() { ["Name"] = "token", ["Labels:0"] = "linux", ["Labels:1"] = "tok", ["MaxRunners"] = "3", ["Registration"] = "RegistrationToken" },
        ], logs: logs);
        fleet.GitHub.QueueJobs("octo/web", ["self-hosted", "linux", "x64"], 3, TimeSpan.FromMilliseconds(500));
        fleet.GitHub.QueueJobs("octo/web", ["self-hosted", "linux", "tok"], 2, TimeSpan.FromMilliseconds(500));
        var credentials = new HashSet<string>();
        await FleetUnderTest.WaitUntilAsync(async () =>
        {
            foreach (var r in fleet.GitHub.AllRunners())
            {
                credentials.Add(r.Credential);
            }

            return fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync();
        }, TimeSpan.FromMinutes(2), fleet.DescribeAsync);

        using var http = new HttpClient();
        var api = new List<string>();
        foreach (var path in new[] { "/api/runners", "/api/jobs", "/api/pools" })
        {
            api.Add(await http.GetStringAsync(new Uri(fleet.ControllerUrl, path), TestContext.Current.CancellationToken));
        }

        foreach (var r in await fleet.Store.ListRunnersAsync(10, TestContext.Current.CancellationToken))
        {
            api.Add(await http.GetStringAsync(new Uri(fleet.ControllerUrl, $"/api/runners/{r.Name}/events"), TestContext.Current.CancellationToken));
        }

        Assert.Contains(traces, t => t.Contains("runner.provision", StringComparison.Ordinal));
        var all = string.Join('\n', logs.Lines.Concat(traces).Concat(api));
        Assert.NotEmpty(logs.Lines);
        Assert.Contains("took job", all, StringComparison.Ordinal);
        Assert.DoesNotContain("sandbox-token", all, StringComparison.Ordinal);
        Assert.DoesNotContain(fleet.App.Configuration["GitHub:WebhookSecret"]!, all, StringComparison.Ordinal);
        Assert.DoesNotContain("ACTIONS_RUNNER_INPUT", all, StringComparison.Ordinal);
        Assert.DoesNotContain("credential=", all, StringComparison.Ordinal);
        Assert.All(credentials, c => Assert.DoesNotContain(c, all, StringComparison.Ordinal));
    }
}
