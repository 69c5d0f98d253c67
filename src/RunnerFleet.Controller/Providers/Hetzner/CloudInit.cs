using System.Text;

using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>
/// The cloud-init user data of a runner server (<c>#cloud-config</c>, under Hetzner's 32 KiB). It writes the
/// runner's settings to a root-only env file, blocks the metadata service (169.254.169.254) before any job
/// can run, installs the runner only when the image is not a prepared snapshot, runs the runner once as
/// the unprivileged <c>runner</c> user, and powers the server off when it exits; the controller then
/// deletes the server.
/// </summary>
internal static class CloudInit
{
    public const int MaxBytes = 32 * 1024;

    public static string Render(RunnerLaunch launch)
    {
        var settings = launch.Pool.ProviderSettingsAs<HetznerPoolSettings>();
        var env = new StringBuilder();
        if (launch.JitConfig is { } jit)
        {
            env.Append("ACTIONS_RUNNER_INPUT_JITCONFIG=").Append(jit).Append('\n');
        }
        else
        {
            env.Append("ACTIONS_RUNNER_INPUT_URL=").Append(launch.RegistrationUrl).Append('\n')
               .Append("ACTIONS_RUNNER_INPUT_TOKEN=").Append(launch.RegistrationToken).Append('\n')
               .Append("ACTIONS_RUNNER_INPUT_NAME=").Append(launch.Name).Append('\n')
               .Append("ACTIONS_RUNNER_INPUT_LABELS=").Append(string.Join(',', launch.Pool.Labels)).Append('\n')
               .Append("ACTIONS_RUNNER_INPUT_EPHEMERAL=true\nACTIONS_RUNNER_INPUT_UNATTENDED=true\nACTIONS_RUNNER_INPUT_DISABLEUPDATE=true\nACTIONS_RUNNER_INPUT_NO_DEFAULT_LABELS=true\n");
        }

        var start = launch.JitConfig is not null
            ? "./run.sh"
            : "./config.sh && ./run.sh";
        var install = settings.PreparedImage
            ? "      # Prepared snapshot: the runner is already in /home/runner.\n"
            : $"""
                  if [ ! -x /home/runner/run.sh ]; then
                    id runner >/dev/null 2>&1 || useradd -m -s /bin/bash runner
                    arch=$(uname -m); case "$arch" in aarch64) ra=arm64 ;; *) ra=x64 ;; esac
                    curl -fsSL -o /tmp/runner.tgz "https://github.com/actions/runner/releases/download/v{settings.RunnerVersion}/actions-runner-linux-$ra-{settings.RunnerVersion}.tar.gz"
                    tar -xzf /tmp/runner.tgz -C /home/runner && rm -f /tmp/runner.tgz
                    /home/runner/bin/installdependencies.sh >/dev/null
                    chown -R runner:runner /home/runner
                  fi

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
              - path: /usr/local/sbin/runnerfleet-start
                owner: root:root
                permissions: '0700'
                content: |
                  #!/bin/bash
                  set -u
                  # No job may reach the metadata service (it would learn the server's identity and user data).
                  iptables -I OUTPUT -d 169.254.169.254 -j REJECT
                  ip6tables -I OUTPUT -d fe80::a9fe:a9fe -j REJECT 2>/dev/null || true
            {install}      set -a; . /etc/runnerfleet/runner.env; set +a
                  rm -f /etc/runnerfleet/runner.env
                  cd /home/runner && sudo -E -u runner bash -c '{start}'
                  poweroff
            runcmd:
              - [ /usr/local/sbin/runnerfleet-start ]
            """;
        var text = yaml.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
        return Encoding.UTF8.GetByteCount(text) <= MaxBytes
            ? text
            : throw new ProviderException("invalid_input", $"cloud-init user data for {launch.Name} exceeds {MaxBytes} bytes");
    }

    private static string Indent(string text, int spaces)
    {
        var pad = new string(' ', spaces);
        return string.Join('\n', text.TrimEnd('\n').Split('\n').Select(l => pad + l));
    }
}
