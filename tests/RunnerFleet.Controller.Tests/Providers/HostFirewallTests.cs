using RunnerFleet.Controller.Providers.Docker;

namespace RunnerFleet.Controller.Tests.Providers;

public sealed class HostFirewallTests
{
    [Fact]
    public void Names_fit_linux_and_iptables_limits_and_are_stable()
    {
        Assert.InRange(HostFirewall.BridgeName("runnerfleet-a-very-long-fleet-name-indeed").Length, 1, 15);
        Assert.Equal(HostFirewall.BridgeName("n"), HostFirewall.BridgeName("n"));
        Assert.NotEqual(HostFirewall.BridgeName("n1"), HostFirewall.BridgeName("n2"));
        Assert.InRange(HostFirewall.ChainName("abcdefghijklmnopqrst").Length, 1, 28);
    }

    [Fact]
    public void The_chain_accepts_replies_and_allowed_ports_then_rejects_everything_else()
    {
        var rules = HostFirewall.Rules("RUNNERFLEET-X", "rf-1", [8443, 8443, 5080]).Select(r => string.Join(' ', r)).ToList();

        Assert.Equal("-w -F RUNNERFLEET-X", rules[0]);
        Assert.Contains("ESTABLISHED,RELATED -j ACCEPT", rules[1], StringComparison.Ordinal);
        Assert.Equal(["--dport 8443 -j ACCEPT", "--dport 5080 -j ACCEPT"], rules.Skip(2).Take(2).Select(r => r[r.IndexOf("--dport", StringComparison.Ordinal)..]));
        Assert.EndsWith("-j REJECT --reject-with icmp-port-unreachable", rules[^1], StringComparison.Ordinal);
        Assert.Equal(6, rules.Count);
    }
}
