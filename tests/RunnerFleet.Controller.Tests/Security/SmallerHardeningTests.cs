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
