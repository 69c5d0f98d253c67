using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.IntegrationTests;

/// <summary>What an operator uses: the status page and the bearer-token admin API.</summary>
[Trait("Category", "Api")]
[Collection(nameof(DockerCollection))]
public sealed class AdminAndStatusTests(DockerEnvironment docker)
{
    private const string AdminToken = "admin-test-token-0123456789abcdef0123456789";

    private Task<FleetUnderTest> StartAsync(string? adminToken = AdminToken, string minIdle = "0") =>
        FleetUnderTest.StartAsync(docker, ["octo/app"],
            [new() { ["Name"] = "sim", ["Provider"] = "inprocess", ["Labels:0"] = "linux", ["MaxRunners"] = "3", ["MinIdle"] = minIdle }],
            extra: adminToken is null ? null : new Dictionary<string, string> { ["Admin:Token"] = adminToken });

    private static HttpRequestMessage Request(HttpMethod method, Uri url, string? token) =>
        new(method, url) { Headers = { Authorization = token is null ? null : new AuthenticationHeaderValue("Bearer", token) } };

    [Fact]
    public async Task The_admin_api_is_off_without_a_token_and_refuses_a_wrong_one()
    {
        using var http = new HttpClient();
        await using (var off = await StartAsync(adminToken: null))
        {
            using var r = await http.SendAsync(Request(HttpMethod.Post, new Uri(off.ControllerUrl, "/api/reconcile"), AdminToken), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        }

        await using var fleet = await StartAsync();
        using var none = await http.SendAsync(Request(HttpMethod.Post, new Uri(fleet.ControllerUrl, "/api/reconcile"), null), TestContext.Current.CancellationToken);
        using var wrong = await http.SendAsync(Request(HttpMethod.Post, new Uri(fleet.ControllerUrl, "/api/reconcile"), "admin-test-token-0123456780"), TestContext.Current.CancellationToken);
        using var right = await http.SendAsync(Request(HttpMethod.Post, new Uri(fleet.ControllerUrl, "/api/reconcile"), AdminToken), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
    }

    [Fact]
    public async Task A_drained_pool_makes_no_runners_until_it_is_resumed()
    {
        await using var fleet = await StartAsync();
        using var http = new HttpClient();
        using (var drain = await http.SendAsync(Request(HttpMethod.Post, new Uri(fleet.ControllerUrl, "/api/pools/sim/drain"), AdminToken), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, drain.StatusCode);
        }

        var job = fleet.GitHub.QueueJobs("octo/app", ["self-hosted", "linux"], 1, TimeSpan.FromMilliseconds(200)).Jobs[0];
        await FleetUnderTest.WaitUntilAsync(async () => (await fleet.Store.ListJobsAsync(JobStatus.Queued, 10, CancellationToken.None)).Count == 1, TimeSpan.FromSeconds(30), fleet.DescribeAsync);
        var free = fleet.GitHub.NotModifiedResponses;
        await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(fleet.GitHub.NotModifiedResponses >= free + 4), TimeSpan.FromSeconds(30), fleet.DescribeAsync);
        Assert.Empty(await fleet.Store.ListRunnersAsync(10, TestContext.Current.CancellationToken));
        var pools = await http.GetFromJsonAsync<JsonElement>(new Uri(fleet.ControllerUrl, "/api/pools"), TestContext.Current.CancellationToken);
        Assert.True(pools[0].GetProperty("drained").GetBoolean());

        using (var resume = await http.SendAsync(Request(HttpMethod.Post, new Uri(fleet.ControllerUrl, "/api/pools/sim/resume"), AdminToken), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        }

        await FleetUnderTest.WaitUntilAsync(async () => job.Status == "completed" && await fleet.AllFinalAsync(), TimeSpan.FromSeconds(60), fleet.DescribeAsync);
    }

    [Fact]
    public async Task An_operator_destroys_an_idle_runner_and_the_status_page_shows_it()
    {
        await using var fleet = await StartAsync(minIdle: "1");
        using var http = new HttpClient();
        await FleetUnderTest.WaitUntilAsync(async () => (await fleet.Store.ListActiveRunnersAsync(CancellationToken.None)).Any(r => r.State == RunnerState.Idle), TimeSpan.FromSeconds(60), fleet.DescribeAsync);
        var idle = (await fleet.Store.ListActiveRunnersAsync(TestContext.Current.CancellationToken)).First(r => r.State == RunnerState.Idle);

        using (var missing = await http.SendAsync(Request(HttpMethod.Delete, new Uri(fleet.ControllerUrl, "/api/runners/no-such-runner"), AdminToken), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        using (var destroy = await http.SendAsync(Request(HttpMethod.Delete, new Uri(fleet.ControllerUrl, $"/api/runners/{idle.Name}"), AdminToken), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, destroy.StatusCode);
        }

        var after = await fleet.Store.FindRunnerByNameAsync(idle.Name, TestContext.Current.CancellationToken);
        Assert.Equal(RunnerState.Failed, after!.State);
        Assert.Equal("destroyed by an operator", after.FailureReason);
        Assert.NotNull(after.DestroyedAt);
        Assert.DoesNotContain(fleet.GitHub.AllRunners(), r => r.Name == idle.Name);

        var page = await http.GetStringAsync(fleet.ControllerUrl, TestContext.Current.CancellationToken);
        Assert.Contains("<meta http-equiv=\"refresh\"", page, StringComparison.Ordinal);
        Assert.Contains("name=\"viewport\"", page, StringComparison.Ordinal);
        Assert.Contains(">sim<", page, StringComparison.Ordinal);
        Assert.Contains(idle.Name, page, StringComparison.Ordinal);
        Assert.Contains("destroyed by an operator", page, StringComparison.Ordinal);
    }
}
