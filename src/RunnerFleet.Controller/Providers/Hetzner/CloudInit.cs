using System.Text;

using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>
/// The cloud-init user data of a runner server (<c>#cloud-config</c>, under Hetzner's 32 KiB). It writes the
/// runner's settings to a root-only env file, the pre-job hook and its settings (<see cref="RunnerHook"/>)
/// root-owned, and a start script that runs once as root and fails closed: any failed step powers the
/// server off before a runner starts. The script blocks the metadata service (169.254.169.254) for local
/// and forwarded traffic, installs the runner only when the image is not a prepared snapshot, registers a
/// token-mode runner out of band (config.sh alone holds the token and exits before run.sh starts), and runs
/// the runner once as the unprivileged <c>runner</c> user with a clean login environment (HOME, USER,
/// LOGNAME, SHELL, PATH and the runner's own variables; nothing of root's), then powers off; the controller
/// then deletes the server.
/// </summary>
internal static class CloudInit
{
    public const int MaxBytes = 32 * 1024;

    public static string Render(RunnerLaunch launch)
    {
        var settings = launch.Pool.ProviderSettingsAs<HetznerPoolSettings>();
        // Sourced by bash as root: every value single-quoted, so nothing in one (a label, say) is ever run.
        static string Quote(string? value) => "'" + (value ?? string.Empty).Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var env = new StringBuilder();
        if (launch.JitConfig is { } jit)
        {
            env.Append("ACTIONS_RUNNER_INPUT_JITCONFIG=").Append(Quote(jit)).Append('\n');
        }
        else
        {
            env.Append("ACTIONS_RUNNER_INPUT_URL=").Append(Quote(launch.RegistrationUrl?.ToString())).Append('\n')
               .Append("ACTIONS_RUNNER_INPUT_TOKEN=").Append(Quote(launch.RegistrationToken)).Append('\n')
               .Append("ACTIONS_RUNNER_INPUT_NAME=").Append(Quote(launch.Name)).Append('\n')
               .Append("ACTIONS_RUNNER_INPUT_LABELS=").Append(Quote(string.Join(',', launch.Pool.Labels))).Append('\n');
        }

        // A clean environment for everything run as the runner user: nothing of root's (cloud-init's) environment.
        const string Clean = "env -i HOME=/home/runner USER=runner LOGNAME=runner SHELL=/bin/bash LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        var start = launch.JitConfig is not null
            ? $"""
              {Clean} ACTIONS_RUNNER_INPUT_JITCONFIG="$ACTIONS_RUNNER_INPUT_JITCONFIG" {RunnerHook.EnvironmentVariable}={RunnerHook.ScriptPath} runuser -u runner -- ./run.sh || echo "runnerfleet-start: run.sh exited with $?"
              """
            : $"""
              # Token mode, out of band: config.sh alone holds the token (in its environment, never argv) and exits;
              # run.sh starts afterwards without it. The flags are arguments: actions/runner reads no-default-labels
              # from the command line only.
              {Clean} ACTIONS_RUNNER_INPUT_TOKEN="$ACTIONS_RUNNER_INPUT_TOKEN" runuser -u runner -- ./config.sh --unattended --url "$ACTIONS_RUNNER_INPUT_URL" --name "$ACTIONS_RUNNER_INPUT_NAME" --labels "$ACTIONS_RUNNER_INPUT_LABELS" --ephemeral --no-default-labels
              unset ACTIONS_RUNNER_INPUT_TOKEN
              {Clean} {RunnerHook.EnvironmentVariable}={RunnerHook.ScriptPath} runuser -u runner -- ./run.sh || echo "runnerfleet-start: run.sh exited with $?"
              """;
        var install = settings.PreparedImage ? "# Prepared snapshot: the runner is already in /home/runner.\n" : Install(launch);

        var script = $"""
            #!/bin/bash
            # Runs once, as root, from cloud-init's runcmd. Fails closed: any failed step powers the server off
            # before a runner starts.
            set -euo pipefail
            trap 'echo "runnerfleet-start: failed at line $LINENO; powering off" >&2; poweroff' ERR
            # No job may reach the metadata service (the server's identity and user data): local and forwarded traffic.
            if command -v iptables >/dev/null; then
              iptables -w -I OUTPUT -d 169.254.169.254 -j REJECT
              iptables -w -I FORWARD -d 169.254.169.254 -j REJECT
              iptables -w -C OUTPUT -d 169.254.169.254 -j REJECT
            else
              nft add table inet runnerfleet
              nft add chain inet runnerfleet output '{NftChain("output")}'
              nft add chain inet runnerfleet forward '{NftChain("forward")}'
              nft add rule inet runnerfleet output ip daddr 169.254.169.254 reject
              nft add rule inet runnerfleet forward ip daddr 169.254.169.254 reject
            fi
            {Dns64(settings)}id runner >/dev/null 2>&1 || useradd -m -s /bin/bash runner
            {install}. /etc/runnerfleet/runner.env
            rm -f /etc/runnerfleet/runner.env
            cd /home/runner
            {start}
            poweroff
            """;

        var yaml = $"""
            #cloud-config
            # RunnerFleet runner {launch.Name} (pool {launch.Pool.Name}). One job, then power off.
            write_files:
              - path: /etc/runnerfleet/runner.env
                owner: root:root
                permissions: '0600'
                content: |
            {Indent(env.ToString(), 6)}
              - path: {RunnerHook.SettingsPath}
                owner: root:root
                permissions: '0644'
                content: |
            {Indent(RunnerHook.Settings(launch.Pool), 6)}
              - path: {RunnerHook.ScriptPath}
                owner: root:root
                permissions: '0755'
                content: |
            {Indent(RunnerHook.Script, 6)}
              - path: /usr/local/sbin/runnerfleet-start
                owner: root:root
                permissions: '0700'
                content: |
            {Indent(script, 6)}
            runcmd:
              - [ /usr/local/sbin/runnerfleet-start ]
            """;
        var text = yaml.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
        return Encoding.UTF8.GetByteCount(text) <= MaxBytes
            ? text
            : throw new ProviderException("invalid_input", $"cloud-init user data for {launch.Name} exceeds {MaxBytes} bytes");
    }

    /// <summary>
    /// Installs the current actions/runner release GitHub listed for the scope (never a pinned one: GitHub refuses
    /// jobs to runners more than 30 days behind), for the server's architecture, with retries, and checks its
    /// SHA-256 before unpacking; a mismatch fails the script (and powers the server off). Updates stay on.
    /// </summary>
    private static string Install(RunnerLaunch launch)
    {
        var packages = launch.Packages.Where(p => p.Architecture is "x64" or "arm64").ToList();
        if (packages.Count == 0)
        {
            throw new ProviderException("runner_release_unknown", $"GitHub did not list the actions/runner release for {launch.Name}'s scope, and pool {launch.Pool.Name} installs it (not a PreparedImage)");
        }

        var cases = new StringBuilder();
        foreach (var p in packages)
        {
            cases.Append("  ").Append(p.Architecture == "arm64" ? "aarch64" : "x86_64")
                 .Append(") url='").Append(p.DownloadUrl).Append("'; sha='").Append(p.Sha256).Append("' ;;\n");
        }

        return $"""
            if [ ! -x /home/runner/run.sh ]; then
              case "$(uname -m)" in
            {cases}  *) echo "runnerfleet-start: GitHub listed no runner release for $(uname -m)" >&2; false ;;
              esac
              curl -fsSL --retry 5 --retry-all-errors --retry-delay 2 -o /tmp/runner.tgz "$url"
              echo "$sha  /tmp/runner.tgz" | sha256sum -c --quiet -
              tar -xzf /tmp/runner.tgz -C /home/runner
              rm -f /tmp/runner.tgz
              /home/runner/bin/installdependencies.sh >/dev/null
              chown -R runner:runner /home/runner
            fi

            """;
    }

    /// <summary>An IPv6-only server resolves through DNS64 (names of IPv4-only hosts such as github.com get NAT64 addresses).</summary>
    private static string Dns64(HetznerPoolSettings settings) => settings.Dns64Servers.Count == 0
        ? string.Empty
        : $"mkdir -p /etc/systemd/resolved.conf.d\nprintf '[Resolve]\\nDNS={string.Join(' ', settings.Dns64Servers)}\\n' > /etc/systemd/resolved.conf.d/runnerfleet-dns64.conf\nsystemctl restart systemd-resolved\n";

    private static string NftChain(string hook) => "{ type filter hook " + hook + " priority 0 ; }";

    private static string Indent(string text, int spaces)
    {
        var pad = new string(' ', spaces);
        return string.Join('\n', text.TrimEnd('\n').Split('\n').Select(l => pad + l));
    }
}
