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
    };

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
        Assert.Contains("sudo -E -u runner", text, StringComparison.Ordinal);
        Assert.True(Encoding.UTF8.GetByteCount(text) < CloudInit.MaxBytes);
    }

    [Fact]
    public void Carries_the_jit_config_where_the_server_reads_it()
    {
        var env = HetznerSimulator.ParseRunnerEnvironment(CloudInit.Render(Launch()));

        Assert.Equal("SECRETJITBLOB==", env["ACTIONS_RUNNER_INPUT_JITCONFIG"]);
    }

    [Fact]
    public void Registration_token_mode_configures_an_ephemeral_runner_with_exactly_the_pools_labels()
    {
        var text = CloudInit.Render(Launch(jit: false));
        var env = HetznerSimulator.ParseRunnerEnvironment(text);

        Assert.Equal("REGTOKEN", env["ACTIONS_RUNNER_INPUT_TOKEN"]);
        Assert.Equal("self-hosted,linux,arm64", env["ACTIONS_RUNNER_INPUT_LABELS"]);
        Assert.Equal("true", env["ACTIONS_RUNNER_INPUT_EPHEMERAL"]);
        Assert.Equal("true", env["ACTIONS_RUNNER_INPUT_NO_DEFAULT_LABELS"]);
        Assert.Contains("./config.sh && ./run.sh", text, StringComparison.Ordinal);
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
        var content = lines.SkipWhile(l => !l.Contains("runnerfleet-start", StringComparison.Ordinal)).Skip(4).TakeWhile(l => !l.StartsWith("runcmd:", StringComparison.Ordinal)).ToList();

        Assert.NotEmpty(content);
        Assert.All(content.Where(l => l.Length > 0), l => Assert.StartsWith("      ", l, StringComparison.Ordinal));
    }
}
