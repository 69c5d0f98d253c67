using System.Text.Json;
using System.Text.RegularExpressions;

namespace RunnerFleet.Controller.Tests.Deployment;

/// <summary>
/// The compose deployment keeps its promises: only the TLS proxy is public and it forwards only the webhook;
/// the controller sits in the host's network namespace with the capabilities its runner firewall needs; and
/// every Docker pool refuses to run without that firewall (fail closed).
/// </summary>
[Trait("Category", "Security")]
public sealed partial class DeploymentFilesTests
{
    private static readonly string s_root = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RunnerFleet.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the repository root (RunnerFleet.sln) is not above the test assembly");
    }

    private static string Read(string path) => File.ReadAllText(Path.Combine(s_root, path));

    [GeneratedRegex(@"^\s+- ""(?<spec>[^""]+)""", RegexOptions.Multiline)]
    private static partial Regex QuotedListItem();

    [Fact]
    public void Compose_publishes_nothing_on_a_public_interface()
    {
        var compose = Read("infra/compose/compose.yaml");
        var published = QuotedListItem().Matches(compose).Select(m => m.Groups["spec"].Value).Where(s => Regex.IsMatch(s, @"^[\d.:]+$")).ToList();

        Assert.NotEmpty(published);
        Assert.All(published, p => Assert.StartsWith("127.0.0.1:", p, StringComparison.Ordinal));
        Assert.Contains("ASPNETCORE_URLS: http://127.0.0.1:8080", compose, StringComparison.Ordinal);
    }

    [Fact]
    public void The_controller_runs_where_its_firewall_works_with_only_the_capabilities_it_needs()
    {
        var compose = Read("infra/compose/compose.yaml");
        var controller = compose[compose.IndexOf("  controller:", StringComparison.Ordinal)..compose.IndexOf("  postgres:", StringComparison.Ordinal)];

        Assert.Contains("network_mode: host", controller, StringComparison.Ordinal);
        Assert.Contains("cap_drop: [ALL]", controller, StringComparison.Ordinal);
        Assert.Contains("cap_add: [NET_ADMIN, NET_RAW, DAC_OVERRIDE]", controller, StringComparison.Ordinal);
        Assert.Contains("no-new-privileges:true", controller, StringComparison.Ordinal);
        Assert.Contains("apt-get install -y --no-install-recommends iptables", Read("infra/controller/Dockerfile"), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_docker_pool_of_the_deployment_requires_the_firewall()
    {
        using var settings = JsonDocument.Parse(Read("infra/compose/appsettings.Production.json"));
        var docker = settings.RootElement.GetProperty("Fleet").GetProperty("Pools").EnumerateArray()
            .Where(p => p.GetProperty("Provider").GetString() == "docker").ToList();

        Assert.NotEmpty(docker);
        Assert.All(docker, p => Assert.True(p.GetProperty("Docker").GetProperty("RequireFirewall").GetBoolean()));
    }

    [Fact]
    public void The_proxy_forwards_only_the_webhook()
    {
        var caddy = Read("infra/compose/Caddyfile");

        Assert.Single(Regex.Matches(caddy, "reverse_proxy"));
        Assert.Matches(@"handle /webhooks/github \{\s+reverse_proxy 127\.0\.0\.1:8080\s+\}", caddy);
        Assert.Matches(@"handle \{\s+respond 404\s+\}", caddy);
    }
}
