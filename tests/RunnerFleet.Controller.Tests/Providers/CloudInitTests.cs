using System.Text;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Providers.Hetzner;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.Controller.Tests.Providers;

public sealed class CloudInitTests
{
    private static RunnerLaunch Launch(bool prepared = false, bool jit = true) => new()
    {
        Fleet = "f",
        Name = "f-cax-0123456789",
        Pool = new PoolDefinition { Name = "cax", Labels = ["self-hosted", "linux", "arm64"], Provider = "hetzner", ProviderSettings = new HetznerPoolSettings { PreparedImage = prepared } },
        JitConfig = jit ? "SECRETJITBLOB==" : null,
        RegistrationToken = jit ? null : "REGTOKEN",
        RegistrationUrl = jit ? null : new Uri("https://github.com/octo/app"),
        Packages = s_packages,
    };

    private static readonly RunnerPackage[] s_packages =
    [
        new("x64", new Uri("https://github.com/actions/runner/releases/download/v2.330.0/actions-runner-linux-x64-2.330.0.tar.gz"), new string('a', 64), "2.330.0"),
        new("arm64", new Uri("https://github.com/actions/runner/releases/download/v2.330.0/actions-runner-linux-arm64-2.330.0.tar.gz"), new string('b', 64), "2.330.0"),
    ];

    [Fact]
    public void Blocks_the_metadata_service_before_the_runner_starts_and_powers_off_after()
    {
        var text = CloudInit.Render(Launch());

        Assert.StartsWith("#cloud-config\n", text, StringComparison.Ordinal);
        var block = text.IndexOf("169.254.169.254", StringComparison.Ordinal);
        var run = text.IndexOf("./run.sh", StringComparison.Ordinal);
        var off = text.LastIndexOf("poweroff", StringComparison.Ordinal);
        Assert.True(block > 0 && block < run && run < off);
        Assert.Contains("permissions: '0600'", text, StringComparison.Ordinal);
        // Forwarded traffic too, and the runner in a clean login environment (HOME set, nothing of root's).
        Assert.Contains("iptables -w -I FORWARD -d 169.254.169.254 -j REJECT", text, StringComparison.Ordinal);
        Assert.Contains("env -i HOME=/home/runner USER=runner LOGNAME=runner SHELL=/bin/bash", text, StringComparison.Ordinal);
        Assert.Contains("runuser -u runner -- ./run.sh", text, StringComparison.Ordinal);
        Assert.DoesNotContain("sudo -E", text, StringComparison.Ordinal);
        Assert.True(Encoding.UTF8.GetByteCount(text) < CloudInit.MaxBytes);
    }

    [Fact]
    public void Carries_the_jit_config_where_the_server_reads_it()
    {
        var env = HetznerSimulator.ParseRunnerEnvironment(CloudInit.Render(Launch()));

        Assert.Equal("SECRETJITBLOB==", env["ACTIONS_RUNNER_INPUT_JITCONFIG"]);
    }

    [Fact]
    [Trait("Category", "Security")]
    public void Registration_token_mode_registers_out_of_band_so_run_sh_never_holds_the_token()
    {
        var text = CloudInit.Render(Launch(jit: false));
        var env = HetznerSimulator.ParseRunnerEnvironment(text);
        var script = HetznerSimulator.ParseWriteFiles(text)["/usr/local/sbin/runnerfleet-start"].Split('\n');

        Assert.Equal("REGTOKEN", env["ACTIONS_RUNNER_INPUT_TOKEN"]);
        Assert.Equal("self-hosted,linux,arm64", env["ACTIONS_RUNNER_INPUT_LABELS"]);
        var config = Assert.Single(script, l => l.Contains("./config.sh", StringComparison.Ordinal));
        var run = Assert.Single(script, l => l.Contains("./run.sh", StringComparison.Ordinal));
        // The flags are arguments (actions/runner never reads ACTIONS_RUNNER_INPUT_NO_DEFAULT_LABELS), the token is config.sh's alone.
        Assert.Contains("--ephemeral --no-default-labels", config, StringComparison.Ordinal);
        Assert.Contains("ACTIONS_RUNNER_INPUT_TOKEN=", config, StringComparison.Ordinal);
        Assert.DoesNotContain("ACTIONS_RUNNER_INPUT_TOKEN", run, StringComparison.Ordinal);
        Assert.StartsWith("env -i ", run, StringComparison.Ordinal);
        Assert.True(Array.IndexOf(script, config) < Array.FindIndex(script, l => l == "unset ACTIONS_RUNNER_INPUT_TOKEN") && Array.IndexOf(script, run) > Array.IndexOf(script, config));
        Assert.DoesNotContain("NO_DEFAULT_LABELS", text, StringComparison.Ordinal);
        Assert.DoesNotContain("DISABLEUPDATE", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_start_script_fails_closed()
    {
        var script = HetznerSimulator.ParseWriteFiles(CloudInit.Render(Launch()))["/usr/local/sbin/runnerfleet-start"];

        Assert.StartsWith("#!/bin/bash\n", script, StringComparison.Ordinal);
        Assert.Contains("set -euo pipefail", script, StringComparison.Ordinal);
        Assert.Contains("trap '", script, StringComparison.Ordinal);
        Assert.Contains("poweroff' ERR", script, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Hetzner")]
    public void A_stock_image_installs_githubs_current_release_for_its_architecture_and_checks_the_checksum()
    {
        var script = HetznerSimulator.ParseWriteFiles(CloudInit.Render(Launch()))["/usr/local/sbin/runnerfleet-start"];

        Assert.Contains($"aarch64) url='{s_packages[1].DownloadUrl}'; sha='{s_packages[1].Sha256}' ;;", script, StringComparison.Ordinal);
        Assert.Contains($"x86_64) url='{s_packages[0].DownloadUrl}'; sha='{s_packages[0].Sha256}' ;;", script, StringComparison.Ordinal);
        var check = script.IndexOf("sha256sum -c", StringComparison.Ordinal);
        Assert.True(check > 0 && check < script.IndexOf("tar -xzf", StringComparison.Ordinal));
        Assert.Contains("--retry 5", script, StringComparison.Ordinal);
        var unknown = Assert.Throws<ProviderException>(() => CloudInit.Render(new RunnerLaunch { Fleet = "f", Name = "f-cax-0123456789", Pool = Launch().Pool, JitConfig = "x" }));
        Assert.Equal("runner_release_unknown", unknown.Code);
    }

    [Fact]
    public void A_prepared_snapshot_installs_nothing()
    {
        Assert.Contains("curl", CloudInit.Render(Launch()), StringComparison.Ordinal);
        Assert.DoesNotContain("curl", CloudInit.Render(Launch(prepared: true)), StringComparison.Ordinal);
    }

    [Fact]
    public void The_yaml_keeps_its_block_indentation()
    {
        var lines = CloudInit.Render(Launch()).Split('\n');
        var content = lines.SkipWhile(l => !l.Contains("path: /usr/local/sbin/runnerfleet-start", StringComparison.Ordinal)).Skip(4).TakeWhile(l => !l.StartsWith("runcmd:", StringComparison.Ordinal)).ToList();

        Assert.NotEmpty(content);
        Assert.All(content.Where(l => l.Length > 0), l => Assert.StartsWith("      ", l, StringComparison.Ordinal));
    }
}
