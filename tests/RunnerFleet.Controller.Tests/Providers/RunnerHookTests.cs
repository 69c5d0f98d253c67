using System.Text.Json.Nodes;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Providers.Hetzner;
using RunnerFleet.Sandbox.GitHub;
using RunnerFleet.Sandbox.Runner;

namespace RunnerFleet.Controller.Tests.Providers;

/// <summary>
/// The runner's pre-job hook (<c>infra/runner-image/job-started.sh</c>), run for real under /bin/sh with the
/// event payloads GitHub writes to GITHUB_EVENT_PATH: the first layer of the fork pull request policy.
/// </summary>
[Trait("Category", "Security")]
public sealed class RunnerHookTests
{
    private static readonly PoolDefinition s_strict = new() { Name = "linux", Labels = ["linux"], Provider = "docker" };
    private static readonly PoolDefinition s_trusting = new() { Name = "trusting", Labels = ["linux"], Provider = "docker", AllowForkPullRequests = true };

    private static Task<bool> RunAsync(PoolDefinition pool, string eventName, string payload) => RunAsync(pool, eventName, payload, out _);

    private static Task<bool> RunAsync(PoolDefinition pool, string eventName, string payload, out JobStartedHook hook)
    {
        hook = new JobStartedHook(RunnerHook.Script, RunnerHook.Settings(pool));
        return hook.AllowsAsync(eventName, "acme/widgets", payload, TestContext.Current.CancellationToken);
    }

    private static string Payload(string? head, bool isPrivate = false, bool headIsNull = false) => new JsonObject
    {
        ["action"] = "opened",
        ["pull_request"] = new JsonObject
        {
            ["title"] = "a \"quoted\" \\ title \u00e9 {with} [brackets], and: colons",
            ["head"] = new JsonObject { ["ref"] = "x", ["repo"] = headIsNull ? null : new JsonObject { ["full_name"] = head, ["fork"] = head != "acme/widgets" } },
            ["base"] = new JsonObject { ["repo"] = new JsonObject { ["full_name"] = "acme/widgets" } },
            ["labels"] = new JsonArray(1, 2.5e3, true, null, new JsonArray()),
        },
        ["repository"] = new JsonObject { ["full_name"] = "acme/widgets", ["private"] = isPrivate, ["topics"] = new JsonArray("a", "b") },
    }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });

    [Theory]
    [InlineData("pull_request")]
    [InlineData("pull_request_target")]
    [InlineData("pull_request_review")]
    public async Task A_pull_request_from_a_fork_of_a_public_repository_is_refused(string eventName)
    {
        Assert.False(await RunAsync(s_strict, eventName, Payload("mallory/widgets"), out var hook));
        Assert.Contains($"{eventName} from fork mallory/widgets of public repository acme/widgets", hook.LastOutput, StringComparison.Ordinal);
        Assert.Contains("::error title=RunnerFleet refused this job::", hook.LastOutput, StringComparison.Ordinal);
    }

    /// <summary>
    /// A failed hook alone lets steps with <c>if: always()</c> run (actions/runner#2811): on refusal the hook kills
    /// the job's Runner.Worker (its parent chain), so nothing of the fork's workflow runs. A worker stands in here:
    /// a shell whose process name is Runner.Worker, with a "step" after the hook.
    /// </summary>
    [Fact]
    public async Task A_refusal_kills_the_jobs_worker_so_no_always_step_runs()
    {
        var dir = Directory.CreateTempSubdirectory("rf-worker-");
        try
        {
            var worker = Path.Combine(dir.FullName, "Runner.Worker");
            File.Copy("/bin/sh", worker);
            var hook = Path.Combine(dir.FullName, "job-started.sh");
            await File.WriteAllTextAsync(hook, RunnerHook.Script, TestContext.Current.CancellationToken);
            var payload = Path.Combine(dir.FullName, "event.json");

            async Task<(int Code, string Output)> JobAsync(string json)
            {
                await File.WriteAllTextAsync(payload, json, TestContext.Current.CancellationToken);
                var start = new System.Diagnostics.ProcessStartInfo(worker) { RedirectStandardOutput = true, RedirectStandardError = true };
                start.ArgumentList.Add("-c");
                start.ArgumentList.Add($"sh -e {hook}; echo an-always-step-ran");
                start.Environment["GITHUB_EVENT_NAME"] = "pull_request";
                start.Environment["GITHUB_EVENT_PATH"] = payload;
                using var process = System.Diagnostics.Process.Start(start)!;
                var output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
                await process.WaitForExitAsync(TestContext.Current.CancellationToken);
                return (process.ExitCode, output);
            }

            var refused = await JobAsync(Payload("mallory/widgets"));
            Assert.DoesNotContain("an-always-step-ran", refused.Output, StringComparison.Ordinal);
            Assert.Equal(137, refused.Code);
            Assert.Contains("an-always-step-ran", (await JobAsync(Payload("acme/widgets"))).Output, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_pull_request_from_a_deleted_fork_is_refused()
    {
        Assert.False(await RunAsync(s_strict, "pull_request", Payload(null, headIsNull: true), out var hook));
        Assert.Contains("from fork (deleted)", hook.LastOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_requests_from_the_repository_itself_private_repositories_and_other_events_run()
    {
        Assert.True(await RunAsync(s_strict, "pull_request", Payload("Acme/Widgets")));
        Assert.True(await RunAsync(s_strict, "pull_request", Payload("mallory/widgets", isPrivate: true)));
        Assert.True(await RunAsync(s_strict, "push", "{\"ref\":\"refs/heads/main\",\"repository\":{\"full_name\":\"acme/widgets\",\"private\":false}}"));
    }

    [Fact]
    public async Task A_pool_that_allows_fork_pull_requests_runs_them() =>
        Assert.True(await RunAsync(s_trusting, "pull_request", Payload("mallory/widgets")));

    [Theory]
    [InlineData("{\"repository\":{\"full_name\":")]
    [InlineData("{\"pull_request\":{\"head\":{}},\"repository\":{\"full_name\":\"acme/widgets\",\"private\":false}}")]
    [InlineData("{\"pull_request\":{\"head\":{\"repo\":{\"full_name\":\"acme/widgets\"}}},\"repository\":{\"full_name\":\"acme/widgets\"}}")]
    [InlineData("not json")]
    [InlineData("")]
    public async Task What_it_cannot_read_or_decide_it_refuses(string payload) =>
        Assert.False(await RunAsync(s_strict, "pull_request", payload));

    [Fact]
    public async Task Without_its_settings_file_it_refuses_fork_pull_requests()
    {
        var hook = new JobStartedHook(RunnerHook.Script, settings: null);
        Assert.False(await hook.AllowsAsync("pull_request", "acme/widgets", Payload("mallory/widgets"), TestContext.Current.CancellationToken));
        Assert.Contains("AllowForkPullRequests is off", hook.LastOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_simulators_pull_request_payload_carries_what_the_hook_reads()
    {
        var repo = new SimRepository(1, "acme", "widgets", Private: false);
        var fork = new SimWorkflowRun { Id = 1, Repository = repo, Name = "PR", HeadSha = "abc", CreatedAt = DateTimeOffset.UnixEpoch, Event = "pull_request", HeadRepository = "mallory/widgets" };
        var own = new SimWorkflowRun { Id = 2, Repository = repo, Name = "PR", HeadSha = "abc", CreatedAt = DateTimeOffset.UnixEpoch, Event = "pull_request" };

        Assert.False(await RunAsync(s_strict, "pull_request", SimJson.EventPayload(fork).ToJsonString()));
        Assert.True(await RunAsync(s_strict, "pull_request", SimJson.EventPayload(own).ToJsonString()));
    }

    [Fact]
    public async Task The_hetzner_user_data_installs_the_same_hook_with_the_pools_settings()
    {
        RunnerLaunch Launch(PoolDefinition pool) => new()
        {
            Fleet = "f", Name = "f-cax-0123456789", JitConfig = "SECRET",
            Pool = new PoolDefinition { Name = pool.Name, Labels = pool.Labels, Provider = "hetzner", AllowForkPullRequests = pool.AllowForkPullRequests, ProviderSettings = new HetznerPoolSettings { PreparedImage = true } },
        };

        var strict = JobStartedHook.FromUserData(CloudInit.Render(Launch(s_strict)));
        var trusting = JobStartedHook.FromUserData(CloudInit.Render(Launch(s_trusting)));

        Assert.NotNull(strict);
        Assert.False(await strict.AllowsAsync("pull_request", "acme/widgets", Payload("mallory/widgets"), TestContext.Current.CancellationToken));
        Assert.True(await trusting!.AllowsAsync("pull_request", "acme/widgets", Payload("mallory/widgets"), TestContext.Current.CancellationToken));
    }
}
