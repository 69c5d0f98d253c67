using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Controller.Providers.Docker;

namespace RunnerFleet.Controller.Tests.Security;

/// <summary>Issue 15, item 8 and the firewall's rules: each failed on the code before it.</summary>
[Trait("Category", "Security")]
public sealed class SmallerHardeningTests
{
    [Fact]
    public void Runners_are_recognised_by_their_exact_name_shape_not_by_a_prefix_another_fleet_shares()
    {
        var mine = RunnerNames.Create("prod", "linux");
        var theirs = RunnerNames.Create("prod-eu", "linux");

        Assert.True(RunnerNames.IsOf("prod", ["linux"], mine));
        // Before: "prod-" was a prefix of "prod-eu-linux-…", so fleet prod took (and deleted) prod-eu's runners.
        Assert.False(RunnerNames.IsOf("prod", ["linux"], theirs));
        Assert.False(RunnerNames.IsOf("prod", ["linux"], "prod-linux-not-a-suffix"));
        Assert.False(RunnerNames.IsOf("prod", ["linux"], null));
    }

    [Fact]
    public void A_runner_name_is_at_most_63_characters_even_for_long_fleet_and_pool_names()
    {
        // Hetzner refuses server names and label values over 63 characters (RFC 1123); before: up to 64.
        var name = RunnerNames.Create("fleet-with-a-long-name", "pool-with-an-even-longer-name-for-arm64-servers");

        Assert.Equal(RunnerNames.MaxLength, name.Length);
        Assert.True(RunnerNames.IsOf("fleet-with-a-long-name", ["pool-with-an-even-longer-name-for-arm64-servers"], name));
    }

    [Fact]
    public void Records_that_hold_secrets_never_print_them()
    {
        var runner = new GitHubRunner(7, "r", "linux", "online", false, true, []);
        string[] printed =
        [
            new JitConfigResponse(runner, "JITSECRET").ToString(),
            new AuthenticationToken("REGSECRET", DateTimeOffset.UnixEpoch).ToString(),
            new ActionsRegistration("https://pipelines.example", "ADMINSECRET").ToString(),
            new ScaleSetSession("s", "o", "https://queue", "QUEUESECRET", null).ToString(),
            new ScaleSetJitConfig(new ScaleSetJitRunner(1, "r", 2), "SETJITSECRET").ToString(),
            new RunnerRegistration { JitConfig = "JITSECRET", RegistrationToken = "REGSECRET" }.ToString(),
        ];

        Assert.All(printed, p => Assert.DoesNotContain("SECRET", p, StringComparison.Ordinal));
    }

    [Fact]
    public void A_short_webhook_secret_or_admin_token_stops_start_up_naming_the_key()
    {
        var github = new GitHubOptionsValidator().Validate(null, new GitHubOptions { Token = "t", Repositories = ["o/r"], WebhookSecret = "short" });
        var admin = new AdminOptionsValidator().Validate(null, new AdminOptions { Token = "admin" });

        Assert.Contains(github.Failures!, f => f.StartsWith("GitHub:WebhookSecret", StringComparison.Ordinal));
        Assert.StartsWith("Admin:Token", Assert.Single(admin.Failures!), StringComparison.Ordinal);
        Assert.True(new AdminOptionsValidator().Validate(null, new AdminOptions { Token = new string('x', 32) }).Succeeded);
    }

    [Fact]
    public void The_egress_rules_refuse_metadata_and_private_networks_but_what_the_operator_allows()
    {
        var rules = HostFirewall.EgressRules("RFOUT-F", ["10.1.2.3/32"]).Select(r => string.Join(' ', r)).ToList();

        Assert.Contains("-w -A RFOUT-F -d 10.1.2.3/32 -j RETURN", rules);
        foreach (var blocked in new[] { "169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10" })
        {
            Assert.Contains($"-w -A RFOUT-F -d {blocked} -j REJECT --reject-with icmp-net-prohibited", rules);
        }

        // The allowance comes before the refusals; the rest (the internet) returns to Docker's own rules.
        Assert.True(rules.IndexOf("-w -A RFOUT-F -d 10.1.2.3/32 -j RETURN") < rules.FindIndex(r => r.Contains("10.0.0.0/8", StringComparison.Ordinal)));
        Assert.Equal("-w -A RFOUT-F -j RETURN", rules[^1]);
        Assert.True(HostFirewall.EgressChainName("a-very-long-fleet-name").Length <= 28);
    }
}

/// <summary>Issue 15 item 6: names and URLs checked before they are used.</summary>
[Trait("Category", "Security")]
public sealed class GitHubInputTests
{
    [Theory]
    [InlineData("octo/app", true)]
    [InlineData("octo/my.repo_1", true)]
    [InlineData("octo/..", false)]
    [InlineData("octo/.", false)]
    [InlineData("octo/app/../../admin", false)]
    [InlineData("../app", false)]
    public void Repository_names_are_checked_before_they_go_into_a_url(string name, bool valid)
    {
        Assert.Equal(valid, RepositoryNames.IsValidRepository(name));
        var failures = new GitHubOptionsValidator().Validate(null, new GitHubOptions { Token = "t", Repositories = [name] }).Failures ?? [];
        Assert.Equal(valid, !failures.Any(f => f.StartsWith("GitHub:Repositories:0", StringComparison.Ordinal)));
        if (!valid)
        {
            Assert.Throws<GitHubApiException>(() => GitHubApiClient.ScopePath(name));
        }
    }

    [Theory]
    [InlineData("https://ghe.example.com/api/v3", false, true)]
    [InlineData("http://127.0.0.1:5080", false, true)]
    [InlineData("http://localhost:5080", false, true)]
    [InlineData("http://ghe.example.com/api/v3", false, false)]
    [InlineData("http://ghe.example.com/api/v3", true, true)]
    public void A_plain_http_api_url_off_this_machine_needs_to_be_allowed(string url, bool allowed, bool ok)
    {
        var failures = new GitHubOptionsValidator().Validate(null, new GitHubOptions { ApiUrl = new Uri(url), AllowInsecureApiUrl = allowed, Token = "t", Repositories = ["o/r"] }).Failures ?? [];
        Assert.Equal(ok, !failures.Any(f => f.StartsWith("GitHub:ApiUrl", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_next_page_on_another_origin_is_not_followed_and_the_token_does_not_go_there()
    {
        var handler = new PagingHandler();
        var options = Microsoft.Extensions.Options.Options.Create(new GitHubOptions { ApiUrl = new Uri("https://api.github.example"), Token = "ghp_secret", Repositories = ["o/r"] });
        var credentials = new GitHubCredentials(new HttpClient(), options, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<GitHubCredentials>.Instance);
        var client = new GitHubApiClient(new HttpClient(handler), credentials, options, TimeProvider.System, TestServices.Telemetry(), Microsoft.Extensions.Logging.Abstractions.NullLogger<GitHubApiClient>.Instance);

        var runners = await client.ListRunnersAsync("o/r", TestContext.Current.CancellationToken);

        Assert.Single(runners);
        Assert.DoesNotContain(handler.Hosts, h => h == "evil.example");
    }

    /// <summary>GitHub's edge, faked: page one links its "next" page to another host.</summary>
    private sealed class PagingHandler : HttpMessageHandler
    {
        public List<string> Hosts { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Hosts.Add(request.RequestUri!.Host);
            var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK)
            {
                Content = new StringContent("""{"total_count":2,"runners":[{"id":1,"name":"r1","os":"linux","status":"online","busy":false,"labels":[]}]}""", System.Text.Encoding.UTF8, "application/json"),
            };
            response.Headers.TryAddWithoutValidation("Link", "<https://evil.example/repos/o/r/actions/runners?page=2>; rel=\"next\"");
            return Task.FromResult(response);
        }
    }
}

/// <summary>Issue 15 item 5: what the API shows of a provider's raw error.</summary>
[Trait("Category", "Security")]
public sealed class ApiRedactionTests
{
    [Fact]
    public void Failure_reasons_shown_by_the_api_leave_out_internal_addresses()
    {
        var shown = RunnerFleet.Controller.Api.RunnerView.Redact("provisioning failed: docker create on edge failed: 500 dial tcp 10.0.3.7:2376: connection refused (https://docker.internal:2376/v1.41/containers)");

        Assert.DoesNotContain("10.0.3.7", shown, StringComparison.Ordinal);
        Assert.DoesNotContain("docker.internal", shown, StringComparison.Ordinal);
        Assert.Contains("connection refused", shown, StringComparison.Ordinal);
    }
}
