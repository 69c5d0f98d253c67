using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace RunnerFleet.Controller.Providers.Docker;

/// <summary>
/// Keeps runner containers away from the host they run on: packets from a runner bridge to the host
/// itself (its API ports, a TCP Docker socket, anything listening) are rejected by an iptables chain of
/// the fleet's own, except established connections and the ports the operator allows (a GitHub
/// Enterprise Server or simulator on the host, say). Traffic through the host to the internet is
/// forwarding, not input, and is untouched. Works where the controller runs beside a local engine as
/// root or with CAP_NET_ADMIN; elsewhere it says why it cannot, once, and README shows the rules to add by hand.
/// </summary>
internal sealed partial class HostFirewall(ILogger<HostFirewall> logger)
{
    private static readonly string[] s_iptables = ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<string> _done = new(StringComparer.Ordinal);

    /// <summary>A Linux bridge name for a network (at most 15 characters).</summary>
    public static string BridgeName(string network) => "rf-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(network)))[..12];

    /// <summary>The iptables chain of a fleet (at most 28 characters).</summary>
    public static string ChainName(string fleet) => "RUNNERFLEET-" + (fleet.Length > 16 ? fleet[..16] : fleet).ToUpperInvariant();

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
    public async Task<string?> ProtectAsync(string fleet, string bridge, IReadOnlyList<int> allowedPorts, CancellationToken ct)
    {
        var chain = ChainName(fleet);
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_done.Contains(bridge))
            {
                return null;
            }

            var reason = await InstallAsync(chain, bridge, allowedPorts, ct).ConfigureAwait(false);
            if (reason is null)
            {
                _done.Add(bridge);
                LogProtected(logger, bridge, chain, allowedPorts.Count == 0 ? "none" : string.Join(",", allowedPorts));
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

    private static async Task<string?> InstallAsync(string chain, string bridge, IReadOnlyList<int> allowedPorts, CancellationToken ct)
    {
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

        if (await RunAsync(iptables, ["-w", "-C", "INPUT", "-i", bridge, "-j", chain], ct).ConfigureAwait(false) is not null)
        {
            return await RunAsync(iptables, ["-w", "-I", "INPUT", "1", "-i", bridge, "-j", chain], ct).ConfigureAwait(false);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Runner bridge {Bridge} is cut off from this host by iptables chain {Chain} (host ports allowed: {AllowedPorts})")]
    private static partial void LogProtected(ILogger logger, string bridge, string chain, string allowedPorts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Runner bridge {Bridge} is NOT cut off from this host ({Reason}): runner containers can reach ports this host listens on. See README, Security")]
    private static partial void LogUnprotected(ILogger logger, string bridge, string reason);
}
