using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Providers.Hetzner;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// The Hetzner user data, run for real: cloud-init itself (Debian's, NoCloud seed) executes what
/// <see cref="CloudInit.Render"/> makes, in a Debian 12 system built from Debian's packages
/// (infra/cloudinit-test/build.sh), against the GitHub simulator on a network this test makes, beside a
/// fake metadata server at 169.254.169.254 that the test hosts on that network. The runner is the simulated
/// runner from the release archive GitHub's downloads list names (checksum verified by the script).
/// </summary>
[Trait("Category", "CloudInit")]
[Trait("Category", "Hetzner")]
[Collection(nameof(DockerCollection))]
public sealed class CloudInitBootTests : IAsyncLifetime
{
    private const string Image = "runnerfleet/cloudinit-debian:bookworm";
    private static readonly string[] s_labels = ["self-hosted", "linux", "cloudinit"];
    private static readonly TimeSpan s_boot = TimeSpan.FromMinutes(4);

    private readonly string _network = $"rf-ci-{Guid.NewGuid():N}"[..13];
    // The metadata service's own address (what the user data blocks), on a network only this test uses.
    private readonly string _subnet = "169.254.169";
    private readonly List<string> _containers = [];
    private SandboxServer? _sim;
    private bool _networkMade;

    private SandboxServer Sim => _sim ?? throw new InvalidOperationException("the simulator is not started");
    private string _gateway = string.Empty;

    private string Metadata => $"{_subnet}.254";

    /// <summary>The label of everything this test makes on the engine (what a killed run left is found by it).</summary>
    private const string Leftover = "runnerfleet.test=cloudinit";

    public async ValueTask InitializeAsync()
    {
        var (code, _, error) = await DockerEnvironment.DockerAsync("image", "inspect", Image);
        Assert.True(code == 0, $"build {Image} with infra/cloudinit-test/build.sh (scripts/prepare.sh does): {error}");

        // The subnet is fixed (the metadata address is), so a network of an earlier run that was killed before its
        // clean-up would hold it: such a leftover (this test's label) goes first, after the containers of that run
        // (this test's label too); a network something else is attached to stays.
        var leftovers = await DockerEnvironment.DockerAsync("ps", "-aq", "--filter", $"label={Leftover}");
        foreach (var id in leftovers.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await DockerEnvironment.DockerAsync("rm", "-f", id);
        }

        var stale = await DockerEnvironment.DockerAsync("network", "ls", "-q", "--filter", $"label={Leftover}", "--filter", "name=rf-ci-");
        foreach (var id in stale.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var attached = await DockerEnvironment.DockerAsync("network", "inspect", "-f", "{{len .Containers}}", id);
            if (attached.Output.Trim() == "0")
            {
                await DockerEnvironment.DockerAsync("network", "rm", id);
            }
        }

        // xunit does not call DisposeAsync when InitializeAsync throws: what was made so far is removed here.
        try
        {
            // A network of this test's own in link-local space, its gateway (this host) serving the GitHub simulator,
            // and a fake metadata server at .254 (the test's stand-in for 169.254.169.254).
            _gateway = $"{_subnet}.1";
            var network = await DockerEnvironment.DockerAsync("network", "create", "--driver", "bridge", "--subnet", $"{_subnet}.0/24", "--gateway", _gateway, "--label", Leftover, _network);
            Assert.True(network.Code == 0, $"docker network create {_subnet}.0/24: {network.Error}");
            _networkMade = true;
            var port = FreePort();
            var url = $"http://{_gateway}:{port}";
            _sim = await SandboxServer.StartAsync([url], new GitHubSimulatorOptions { RunnerBaseUrl = url }, null, TimeProvider.System, null);
            Sim.Simulator.EnsureRepository("octo/app");
            var metadata = await DockerEnvironment.DockerAsync("run", "-d", "--label", Leftover, "--network", _network, "--ip", Metadata, "--entrypoint", "/bin/sh", DockerEnvironment.Image,
                "-c", "mkdir -p /tmp/www && echo instance-id: i-fake > /tmp/www/index.html && exec busybox httpd -f -p 80 -h /tmp/www");
            Assert.True(metadata.Code == 0, metadata.Error);
            _containers.Add(metadata.Output.Trim());
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in _containers)
        {
            await DockerEnvironment.DockerAsync("rm", "-f", id);
        }

        _containers.Clear();
        if (_networkMade)
        {
            await DockerEnvironment.DockerAsync("network", "rm", _network);
            _networkMade = false;
        }

        if (_sim is not null)
        {
            await _sim.DisposeAsync();
            _sim = null;
        }
    }

    public enum Mode
    {
        Jit,
        Token,
        Prepared,
    }

    [Theory]
    [InlineData(Mode.Jit)]
    [InlineData(Mode.Token)]
    [InlineData(Mode.Prepared)]
    public async Task The_user_data_boots_a_runner_that_runs_one_job_as_runner_with_home_set_and_powers_off(Mode mode)
    {
        var launch = await LaunchAsync(mode);
        var userData = CloudInit.Render(launch);
        var job = Sim.Simulator.QueueJobs("octo/app", s_labels, 1, TimeSpan.FromSeconds(30)).Jobs[0];

        var container = await BootAsync(userData, launch.Name, prepared: mode == Mode.Prepared);
        await WaitAsync(() => Task.FromResult(Sim.Simulator.AllJobs().Single(j => j.Id == job.Id).Status == "in_progress"), () => LogsAsync(container));

        // While the job runs: run.sh is the runner user's, with a login environment and nothing of root's.
        var run = await ExecAsync(container, "runner", "for p in $(pgrep -x -f '/bin/sh \\./run\\.sh'); do echo \"pid=$p user=$(stat -c %U /proc/$p)\"; tr '\\0' '\\n' < /proc/$p/environ; done");
        Assert.Contains("user=runner", run, StringComparison.Ordinal);
        Assert.DoesNotContain("user=root", run, StringComparison.Ordinal);
        Assert.Contains("HOME=/home/runner", run, StringComparison.Ordinal);
        Assert.Contains("USER=runner", run, StringComparison.Ordinal);
        Assert.Contains("ACTIONS_RUNNER_HOOK_JOB_STARTED=/etc/runnerfleet/job-started.sh", run, StringComparison.Ordinal);
        Assert.DoesNotContain("SUDO_", run, StringComparison.Ordinal);
        Assert.DoesNotContain("ACTIONS_RUNNER_INPUT_TOKEN", run, StringComparison.Ordinal);

        // What a job (the runner user) can read: no registration token in any process, no settings file left.
        var readable = await ExecAsync(container, "runner", "for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ; tr '\\0' ' ' < $p/cmdline; echo; done 2>/dev/null; ls /etc/runnerfleet");
        Assert.DoesNotContain("ACTIONS_RUNNER_INPUT_TOKEN", readable, StringComparison.Ordinal);
        Assert.DoesNotContain("runner.env", readable, StringComparison.Ordinal);

        // The metadata address is blocked from the server; the control container on the same network reaches it.
        Assert.NotEqual(0, (await DockerEnvironment.DockerAsync("exec", "-u", "runner", container, "wget", "-q", "-T", "3", "-t", "1", "-O", "-", $"http://{Metadata}/")).Code);
        // (busybox 1.35's static wget crashes on -T: timeout bounds it instead.)
        Assert.Equal(0, (await DockerEnvironment.DockerAsync("run", "--rm", "--label", Leftover, "--network", _network, "--entrypoint", "/bin/busybox", DockerEnvironment.Image, "timeout", "10", "wget", "-q", "-O", "-", $"http://{Metadata}/")).Code);

        // After its one job: success, then power-off.
        await WaitAsync(async () => !await RunningAsync(container), () => LogsAsync(container));
        var done = Sim.Simulator.AllJobs().Single(j => j.Id == job.Id);
        Assert.Equal(("success", true), (done.Conclusion, done.StepsRan));
        Assert.True(await PoweredOffAsync(container), await LogsAsync(container));
    }

    [Fact]
    public async Task A_runner_archive_whose_checksum_does_not_match_is_never_run_and_the_server_powers_off()
    {
        var launch = await LaunchAsync(Mode.Jit);
        var tampered = new RunnerLaunch
        {
            Fleet = launch.Fleet, Name = launch.Name, Pool = launch.Pool, JitConfig = launch.JitConfig,
            Packages = [.. launch.Packages.Select(p => p with { Sha256 = new string('0', 64) })],
        };

        var container = await BootAsync(CloudInit.Render(tampered), launch.Name, prepared: false);
        await WaitAsync(async () => !await RunningAsync(container), () => LogsAsync(container));

        Assert.True(await PoweredOffAsync(container), await LogsAsync(container));
        Assert.Contains("runnerfleet-start: failed", await LogsAsync(container), StringComparison.Ordinal);
        Assert.NotEqual(0, (await DockerEnvironment.DockerAsync("cp", $"{container}:/home/runner/run.sh", Path.GetTempPath())).Code);
        Assert.All(Sim.Simulator.AllRunners(), r => Assert.False(Sim.Simulator.IsOnline(r)));
    }

    [Theory]
    [InlineData(Mode.Jit)]
    [InlineData(Mode.Token)]
    [InlineData(Mode.Prepared)]
    public async Task Debians_cloud_init_accepts_the_user_data_of_each_mode(Mode mode)
    {
        var dir = await SeedAsync(CloudInit.Render(await LaunchAsync(mode)), "schema");
        try
        {
            var (code, output, error) = await DockerEnvironment.DockerAsync("run", "--rm", "-v", $"{dir}:/seed:ro", Image, "cloud-init", "schema", "--config-file", "/seed/user-data");
            Assert.True(code == 0, output + error);
            Assert.Contains("Valid cloud-config", output + error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private async Task<RunnerLaunch> LaunchAsync(Mode mode)
    {
        var options = new GitHubOptions { ApiUrl = Sim.BaseUrl, Token = "sandbox-token", Repositories = ["octo/app"] };
        var o = Options.Create(options);
        var metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var telemetry = new RunnerFleet.Controller.Telemetry.FleetTelemetry(metrics.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var github = new GitHubApiClient(new HttpClient(), new GitHubCredentials(new HttpClient(), o, TimeProvider.System, NullLogger<GitHubCredentials>.Instance), o, TimeProvider.System, telemetry, NullLogger<GitHubApiClient>.Instance);
        var name = $"ci-cloudinit-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(5))}";
        var pool = new PoolDefinition
        {
            Name = "cloudinit", Labels = s_labels, Provider = HetznerProvider.KindName,
            ProviderSettings = new HetznerPoolSettings { ServerTypes = ["cax21"], Locations = ["fsn1"], PreparedImage = mode == Mode.Prepared },
        };
        var packages = await new RunnerReleases(github, Options.Create(options), TimeProvider.System, NullLogger<RunnerReleases>.Instance).LinuxAsync("octo/app", CancellationToken.None);
        if (mode == Mode.Token)
        {
            var token = await github.CreateRegistrationTokenAsync("octo/app", CancellationToken.None);
            return new RunnerLaunch { Fleet = "ci", Name = name, Pool = pool, RegistrationToken = token.Token, RegistrationUrl = new Uri(Sim.BaseUrl, "octo/app"), Packages = packages };
        }

        var jit = await github.GenerateJitConfigAsync("octo/app", new JitConfigRequest(name, 1, s_labels, "_work"), CancellationToken.None);
        return new RunnerLaunch { Fleet = "ci", Name = name, Pool = pool, JitConfig = jit.EncodedJitConfig, Packages = packages };
    }

    /// <summary>Starts the Debian system with the user data as its NoCloud seed and runs cloud-init's stages as a first boot does.</summary>
    private async Task<string> BootAsync(string userData, string hostname, bool prepared)
    {
        var seed = await SeedAsync(userData, hostname);
        // A prepared snapshot has the runner installed already: lay the release out before cloud-init runs.
        var prepare = prepared
            ? $"useradd -m -s /bin/bash runner && curl -fsS {Sim.BaseUrl}_runner/downloads/actions-runner-linux-x64-{SimRunnerRelease.Version}.tar.gz | tar -xz -C /home/runner && chown -R runner:runner /home/runner && "
            : string.Empty;
        // Each stage runs whatever the one before it reported, as on a boot (a container cannot set a locale or a hostname).
        var boot = prepare + "cloud-init init --local; cloud-init init; cloud-init modules --mode=config; cloud-init modules --mode=final; sleep 600";
        var (code, output, error) = await DockerEnvironment.DockerAsync("run", "-d", "--init", "--label", Leftover, "--network", _network, "--hostname", hostname,
            "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "-v", $"{seed}:/var/lib/cloud/seed/nocloud:ro", Image, "/bin/sh", "-c", boot);
        Assert.True(code == 0, error);
        _containers.Add(output.Trim());
        return output.Trim();
    }

    private static async Task<string> SeedAsync(string userData, string hostname)
    {
        var dir = Directory.CreateTempSubdirectory("rf-seed-").FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "user-data"), userData, new UTF8Encoding(false));
        await File.WriteAllTextAsync(Path.Combine(dir, "meta-data"), $"instance-id: {hostname}\nlocal-hostname: {hostname}\n", new UTF8Encoding(false));
        return dir;
    }

    private static async Task<string> ExecAsync(string container, string user, string script)
    {
        var (code, output, error) = await DockerEnvironment.DockerAsync("exec", "-u", user, container, "/bin/sh", "-c", script);
        Assert.True(code == 0, $"exec as {user} failed ({code}): {error}");
        return output;
    }

    private static async Task<bool> RunningAsync(string container) =>
        (await DockerEnvironment.DockerAsync("inspect", "-f", "{{.State.Running}}", container)).Output.Trim() == "true";

    private static async Task<bool> PoweredOffAsync(string container)
    {
        var target = Directory.CreateTempSubdirectory("rf-off-").FullName;
        try
        {
            return (await DockerEnvironment.DockerAsync("cp", $"{container}:/run/runnerfleet-poweroff", target)).Code == 0;
        }
        finally
        {
            Directory.Delete(target, true);
        }
    }

    private static async Task<string> LogsAsync(string container)
    {
        var (_, output, error) = await DockerEnvironment.DockerAsync("logs", "--tail", "80", container);
        return output + error;
    }

    /// <summary>A boot is slow under load (cloud-init's stages, the download): a generous bound, never a sleep.</summary>
    private static async Task WaitAsync(Func<Task<bool>> condition, Func<Task<string>> describe)
    {
        using var cts = new CancellationTokenSource(s_boot);
        while (!await condition())
        {
            if (cts.IsCancellationRequested)
            {
                Assert.Fail($"Timed out after {s_boot.TotalMinutes:F0} min; the server's console:\n{await describe()}");
            }

            await Task.Delay(500, CancellationToken.None);
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
