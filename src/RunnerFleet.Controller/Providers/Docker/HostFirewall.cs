using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace RunnerFleet.Controller.Providers.Docker;

/// <summary>
/// Keeps runner containers away from the host they run on and from everything behind it but the internet:
/// <list type="bullet">
/// <item>input: packets from a runner bridge to the host itself (its API ports, a TCP Docker socket,
/// anything listening) are rejected by an iptables chain of the fleet's own, except established connections
/// and the ports the operator allows (a GitHub Enterprise Server or simulator on the host, say);</item>
/// <item>forward: packets from a runner bridge through the host to the cloud metadata service
/// (169.254.0.0/16), private networks (RFC 1918), carrier-grade NAT (100.64.0.0/10) and the like are rejected
/// in Docker's <c>DOCKER-USER</c> chain, except the networks the operator allows; the internet stays reachable.</item>
/// </list>
/// The rules are re-asserted periodically: a firewall reload removes them silently. Works where the controller
/// runs beside a local engine as root or with CAP_NET_ADMIN; elsewhere it says why it cannot, once, and README
/// shows the rules to add by hand.
/// </summary>
internal sealed partial class HostFirewall(ILogger<HostFirewall> logger)
{
    private static readonly string[] s_iptables = ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string Fleet, IReadOnlyList<int> Ports, IReadOnlyList<string> Networks)> _done = new(StringComparer.Ordinal);

    /// <summary>
    /// What a runner may never reach through the host: link-local (the metadata service at 169.254.169.254),
    /// private (RFC 1918), carrier-grade NAT (RFC 6598), and "this network". IPv6 runner networks are not made.
    /// </summary>
    public static readonly string[] BlockedNetworks = ["169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "0.0.0.0/8"];

    /// <summary>A Linux bridge name for a network (at most 15 characters).</summary>
    public static string BridgeName(string network) => "rf-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(network)))[..12];

    /// <summary>The iptables chain of a fleet (at most 28 characters).</summary>
    public static string ChainName(string fleet) => "RUNNERFLEET-" + (fleet.Length > 16 ? fleet[..16] : fleet).ToUpperInvariant();

    /// <summary>The fleet's forwarding chain, jumped to from <c>DOCKER-USER</c> (at most 28 characters).</summary>
    public static string EgressChainName(string fleet) => "RFOUT-" + (fleet.Length > 16 ? fleet[..16] : fleet).ToUpperInvariant();

    /// <summary>The iptables commands that stop <paramref name="bridge"/>'s traffic to internal networks but <paramref name="allowedNetworks"/>.</summary>
    public static IReadOnlyList<string[]> EgressRules(string chain, IReadOnlyList<string> allowedNetworks)
    {
        List<string[]> rules = [["-w", "-F", chain]];
        rules.AddRange(allowedNetworks.Distinct().Select(n => new[] { "-w", "-A", chain, "-d", n, "-j", "RETURN" }));
        rules.AddRange(BlockedNetworks.Select(n => new[] { "-w", "-A", chain, "-d", n, "-j", "REJECT", "--reject-with", "icmp-net-prohibited" }));
        rules.Add(["-w", "-A", chain, "-j", "RETURN"]);
        return rules;
    }

    /// <summary>The iptables commands that shut <paramref name="bridge"/> off from the host but for <paramref name="allowedPorts"/>.</summary>
    public static IReadOnlyList<string[]> Rules(string chain, string bridge, IReadOnlyList<int> allowedPorts)
    {
        List<string[]> rules =
        [
            ["-w", "-F", chain],
            ["-w", "-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
        ];
        rules.AddRange(allowedPorts.Distinct().Select(p => new[] { "-w", "-A", chain, "-p", "tcp", "--dport", p.ToString(System.Globalization.CultureInfo.InvariantCulture), "-j", "ACCEPT" }));
        rules.Add(["-w", "-A", chain, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"]);
        rules.Add(["-w", "-A", chain, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"]);
        return rules;
    }

    /// <summary>Installs (or refreshes) the rules for one bridge. Null when in force; otherwise why not.</summary>
    public async Task<string?> ProtectAsync(string fleet, string bridge, IReadOnlyList<int> allowedPorts, IReadOnlyList<string> allowedNetworks, CancellationToken ct)
    {
        var chain = ChainName(fleet);
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_done.ContainsKey(bridge))
            {
                return null;
            }

            var reason = await InstallAsync(fleet, bridge, allowedPorts, allowedNetworks, ct).ConfigureAwait(false);
            if (reason is null)
            {
                _done[bridge] = (fleet, allowedPorts, allowedNetworks);
                LogProtected(logger, bridge, chain, allowedPorts.Count == 0 ? "none" : string.Join(",", allowedPorts), allowedNetworks.Count == 0 ? "none" : string.Join(",", allowedNetworks));
            }
            else
            {
                LogUnprotected(logger, bridge, reason);
            }

            return reason;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Whether the rules of a bridge are in force (installed by this controller and not lost since).</summary>
    public bool IsProtected(string bridge) => _done.ContainsKey(bridge);

    /// <summary>
    /// Puts back whatever is missing of the rules this controller installed (a firewall reload, <c>iptables -F</c>,
    /// a Docker restart rewriting its chains). Returns how many bridges needed it.
    /// </summary>
    public async Task<int> ReassertAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var fixedCount = 0;
            foreach (var (bridge, (fleet, ports, networks)) in _done.ToList())
            {
                if (await InForceAsync(fleet, bridge, ports, networks, ct).ConfigureAwait(false))
                {
                    continue;
                }

                fixedCount++;
                if (await InstallAsync(fleet, bridge, ports, networks, ct).ConfigureAwait(false) is { } reason)
                {
                    _done.TryRemove(bridge, out _);
                    LogUnprotected(logger, bridge, reason);
                }
                else
                {
                    LogReasserted(logger, bridge);
                }
            }

            return fixedCount;
        }
        finally
        {
            _gate.Release();
        }
    }

    private static async Task<bool> InForceAsync(string fleet, string bridge, IReadOnlyList<int> ports, IReadOnlyList<string> networks, CancellationToken ct)
    {
        if (s_iptables.FirstOrDefault(File.Exists) is not { } iptables)
        {
            return false;
        }

        // The jumps, and the chains' last rules (a flushed chain lacks them).
        var (chain, egress) = (ChainName(fleet), EgressChainName(fleet));
        var lastInput = Rules(chain, bridge, ports)[^1][2..];
        var lastEgress = EgressRules(egress, networks)[^2][2..];
        return await RunAsync(iptables, ["-w", "-C", "INPUT", "-i", bridge, "-j", chain], ct).ConfigureAwait(false) is null
            && await RunAsync(iptables, ["-w", "-C", "DOCKER-USER", "-i", bridge, "-j", egress], ct).ConfigureAwait(false) is null
            && await RunAsync(iptables, ["-w", "-C", .. lastInput], ct).ConfigureAwait(false) is null
            && await RunAsync(iptables, ["-w", "-C", .. lastEgress], ct).ConfigureAwait(false) is null;
    }

    private static async Task<string?> InstallAsync(string fleet, string bridge, IReadOnlyList<int> allowedPorts, IReadOnlyList<string> allowedNetworks, CancellationToken ct)
    {
        var chain = ChainName(fleet);
        if (!OperatingSystem.IsLinux())
        {
            return "the host is not Linux";
        }

        if (s_iptables.FirstOrDefault(File.Exists) is not { } iptables)
        {
            return "iptables is not installed";
        }

        // -N fails when the chain exists: fine, it is flushed and refilled next.
        await RunAsync(iptables, ["-w", "-N", chain], ct).ConfigureAwait(false);
        foreach (var rule in Rules(chain, bridge, allowedPorts))
        {
            if (await RunAsync(iptables, rule, ct).ConfigureAwait(false) is { } error)
            {
                return $"iptables {string.Join(' ', rule)}: {error}";
            }
        }

        if (await RunAsync(iptables, ["-w", "-C", "INPUT", "-i", bridge, "-j", chain], ct).ConfigureAwait(false) is not null
            && await RunAsync(iptables, ["-w", "-I", "INPUT", "1", "-i", bridge, "-j", chain], ct).ConfigureAwait(false) is { } inputError)
        {
            return inputError;
        }

        // Forwarded traffic: Docker consults DOCKER-USER before its own rules, and leaves it to the operator.
        var egress = EgressChainName(fleet);
        await RunAsync(iptables, ["-w", "-N", egress], ct).ConfigureAwait(false);
        foreach (var rule in EgressRules(egress, allowedNetworks))
        {
            if (await RunAsync(iptables, rule, ct).ConfigureAwait(false) is { } error)
            {
                return $"iptables {string.Join(' ', rule)}: {error}";
            }
        }

        if (await RunAsync(iptables, ["-w", "-C", "DOCKER-USER", "-i", bridge, "-j", egress], ct).ConfigureAwait(false) is not null)
        {
            return await RunAsync(iptables, ["-w", "-I", "DOCKER-USER", "1", "-i", bridge, "-j", egress], ct).ConfigureAwait(false) is { } error
                ? $"the DOCKER-USER chain (is the engine's iptables integration on?): {error}"
                : null;
        }

        return null;
    }

    /// <summary>Runs one command; null on success, else its error output.</summary>
    private static async Task<string?> RunAsync(string file, IEnumerable<string> args, CancellationToken ct)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var error = await process.StandardError.ReadToEndAsync(ct).ConfigureAwait(false);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        return process.ExitCode == 0 ? null : (error.Trim() is { Length: > 0 } e ? e : $"exit {process.ExitCode}");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Runner bridge {Bridge} is cut off from this host and from internal networks by iptables chain {Chain} (host ports allowed: {AllowedPorts}; networks allowed: {AllowedNetworks})")]
    private static partial void LogProtected(ILogger logger, string bridge, string chain, string allowedPorts, string allowedNetworks);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The firewall rules of runner bridge {Bridge} had gone (a firewall reload?); put back")]
    private static partial void LogReasserted(ILogger logger, string bridge);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Runner bridge {Bridge} is NOT cut off from this host ({Reason}): runner containers can reach ports this host listens on. See README, Security")]
    private static partial void LogUnprotected(ILogger logger, string bridge, string reason);
}
