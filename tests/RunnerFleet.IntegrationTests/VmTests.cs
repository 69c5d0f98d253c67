using System.Diagnostics;
using System.Security.Cryptography;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers.Qemu;
using RunnerFleet.Controller.Store;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// The QEMU provider with real QEMU: the test guests of infra/qemu-guest (Debian's cloud kernels, busybox, the simulated
/// runner on an ext4 base disk; scripts/prepare.sh builds them), booted under KVM where it works and TCG elsewhere. The
/// controller is its own process, so a test can kill -9 it; the guests reach the GitHub simulator only through the
/// restricted user-mode network's one forwarded port.
/// </summary>
[Trait("Category", "VM")]
public sealed class VmTests
{
    // TCG boots on a loaded 2-core machine: a guest that misses its 4-minute BootTimeout is replaced, and the new one
    // boots too; bound generously (the waits end as soon as the condition holds).
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(10);

    [Fact]
    public async Task Three_jobs_through_an_x86_64_pool_and_two_through_an_aarch64_pool_each_run_in_a_vm_of_its_own_that_leaves_nothing()
    {
        await using var world = await VmWorld.StartAsync();
        var before = world.ImageChecksums();
        var x64 = world.GitHub.QueueJobs("octo/app", ["self-hosted", "linux", "x64", "vm"], 3, TimeSpan.FromSeconds(2));
        var arm = world.GitHub.QueueJobs("octo/app", ["self-hosted", "linux", "arm64", "vm"], 2, TimeSpan.FromSeconds(2));

        await using var controller = ControllerProcess.Start(world.Settings());
        await world.AssertEverythingFinishedAsync(5, controller);

        Assert.All(x64.Jobs, j => Assert.Equal("x86_64", j.RunnerMachine));
        Assert.All(arm.Jobs, j => Assert.Equal("aarch64", j.RunnerMachine));
        Assert.Equal(5, world.GitHub.AllJobs().Select(j => j.RunnerName).Distinct().Count());
        Assert.Equal(before, world.ImageChecksums());
    }

    [Fact]
    public async Task A_vm_that_never_comes_online_is_killed_at_BootTimeout_and_its_folder_removed()
    {
        await using var world = await VmWorld.StartAsync();
        world.GitHub.QueueJobs("octo/app", ["self-hosted", "linux", "x64", "vm"], 1, TimeSpan.FromSeconds(1));
        // The guest boots to a shell that waits on its console forever: no runner ever starts.
        var settings = world.Settings(x64Only: true);
        settings["Fleet:Pools:0:Qemu:Append"] = "quiet rdinit=/bin/sh";
        settings["Fleet:Pools:0:BootTimeout"] = "00:00:20";
        settings["Fleet:Pools:0:MaxRunners"] = "1";

        await using var controller = ControllerProcess.Start(settings);
        await FleetUnderTest.WaitUntilAsync(async () => world.VmFolders().Count > 0 && world.VmProcesses().Count > 0, s_timeout, () => world.DescribeAsync(controller));
        await FleetUnderTest.WaitUntilAsync(async () => (await world.RunnersAsync()).Any(r => r.FailureReason?.Contains("BootTimeout", StringComparison.Ordinal) == true && r.DestroyedAt is not null),
            s_timeout, () => world.DescribeAsync(controller));
        var failed = (await world.RunnersAsync()).First(r => r.FailureReason?.Contains("BootTimeout", StringComparison.Ordinal) == true);

        Assert.DoesNotContain(failed.Name, world.VmFolders());
        Assert.DoesNotContain(world.VmProcesses(), p => p.Contains(failed.Name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_guest_on_a_restricted_network_reaches_no_host_port_but_the_forwarded_ones()
    {
        await using var world = await VmWorld.StartAsync();
        world.GitHub.QueueJobs("octo/app", ["self-hosted", "linux", "x64", "vm"], 1, TimeSpan.FromSeconds(1));
        // Another port is forwarded, not the simulator's: the runner in the guest cannot reach GitHub (nor anything else).
        var settings = world.Settings(x64Only: true);
        settings["Qemu:AllowedHostPorts:0"] = FleetUnderTest.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Fleet:Pools:0:MaxRunners"] = "1";

        await using var controller = ControllerProcess.Start(settings);
        await FleetUnderTest.WaitUntilAsync(async () => (await world.RunnersAsync()).Any(r => r.State == RunnerState.Failed && r.DestroyedAt is not null),
            s_timeout, () => world.DescribeAsync(controller));

        var failed = (await world.RunnersAsync()).First(r => r.State == RunnerState.Failed);
        // The guest's runner exited 1 (its first request refused) and said so on the console; the VM powered off; nothing is left.
        Assert.Contains("runner exited (code 1) without taking a job", failed.FailureReason, StringComparison.Ordinal);
        Assert.Equal("queued", Assert.Single(world.GitHub.AllJobs()).Status);
        Assert.Null(failed.OnlineAt);
        await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(!world.VmFolders().Contains(failed.Name) && world.VmProcesses().All(p => !p.Contains(failed.Name, StringComparison.Ordinal))),
            s_timeout, () => world.DescribeAsync(controller));
    }

    [Fact]
    public async Task A_restricted_guest_reaches_its_forwarded_host_port_and_not_the_hosts_loopback()
    {
        // Two HTTP listeners on the host's loopback, made by this test: one forwarded to the guest, one not.
        using var forwarded = new HostListener("forwarded-ok");
        using var hidden = new HostListener("hidden-reached");
        var job = Path.Combine(Path.GetTempPath(), $"rf-vm-net-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(job, $"""
            echo "forwarded: $(timeout 20 wget -q -O - http://{QemuOptions.GuestHostAddress}:{forwarded.Port}/ 2>&1)"
            echo "loopback: $(timeout 20 wget -q -O - http://10.0.2.2:{hidden.Port}/ 2>/dev/null || echo refused)"
            echo "unforwarded: $(timeout 20 wget -q -O - http://{QemuOptions.GuestHostAddress}:{hidden.Port}/ 2>/dev/null || echo refused)"

            """.Replace("\r\n", "\n", StringComparison.Ordinal), TestContext.Current.CancellationToken);
        try
        {
            var images = Path.Combine(VmWorld.Images, "x86_64");
            var network = QemuProvider.Network(new QemuPoolSettings(), new QemuOptions { AllowedHostPorts = [forwarded.Port] });
            var psi = new ProcessStartInfo("qemu-system-x86_64") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[]
            {
                "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-m", "256", "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none", "-serial", "stdio",
                "-kernel", Path.Combine(images, "vmlinuz"), "-initrd", Path.Combine(images, "initrd"), "-append", "console=ttyS0 panic=-1 quiet",
                "-drive", $"file={Path.Combine(images, "disk.raw")},if=virtio,format=raw,snapshot=on",
                "-netdev", network, "-device", "virtio-net-pci,netdev=net0", "-fw_cfg", $"name=opt/runnerfleet/job,file={job}",
            })
            {
                psi.ArgumentList.Add(a);
            }

            using var qemu = Process.Start(psi)!;
            using var timeout = new CancellationTokenSource(s_timeout);
            var console = await qemu.StandardOutput.ReadToEndAsync(timeout.Token);
            await qemu.WaitForExitAsync(timeout.Token);

            Assert.Contains("restrict=on", network, StringComparison.Ordinal);
            Assert.Contains("forwarded: forwarded-ok", console, StringComparison.Ordinal);
            Assert.Contains("loopback: refused", console, StringComparison.Ordinal);
            Assert.Contains("unforwarded: refused", console, StringComparison.Ordinal);
            Assert.Equal(1, forwarded.Served);
            Assert.Equal(0, hidden.Served);
        }
        finally
        {
            File.Delete(job);
        }
    }

    /// <summary>A one-line HTTP server on the host's loopback that counts whom it served.</summary>
    private sealed class HostListener : IDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
        private int _served;

        public HostListener(string body)
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (true)
                {
                    using var client = await _listener.AcceptTcpClientAsync();
                    Interlocked.Increment(ref _served);
                    var stream = client.GetStream();
                    var buffer = new byte[4096];
                    _ = await stream.ReadAsync(buffer);
                    await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}"));
                }
            });
        }

        public int Port => ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;

        public int Served => Volatile.Read(ref _served);

        public void Dispose() => _listener.Stop();
    }

    [Fact]
    public async Task A_controller_killed_while_vms_run_their_jobs_leaves_nothing_after_a_restart()
    {
        await using var world = await VmWorld.StartAsync();
        var run = world.GitHub.QueueJobs("octo/app", ["self-hosted", "linux", "x64", "vm"], 2, TimeSpan.FromSeconds(15));

        await using (var first = ControllerProcess.Start(world.Settings(x64Only: true)))
        {
            await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(run.Jobs.Any(j => j.Status == "in_progress")), s_timeout, () => world.DescribeAsync(first));
            first.Kill9();
            await first.WaitForExitAsync(CancellationToken.None);
        }

        // The VMs are not the controller's children: they run on, their jobs too, while no controller watches.
        Assert.NotEmpty(world.VmProcesses());

        await using var second = ControllerProcess.Start(world.Settings(x64Only: true));
        await world.AssertEverythingFinishedAsync(2, second);
    }

    /// <summary>The GitHub simulator, a store file, the guests' images and a VM state folder of one test.</summary>
    private sealed class VmWorld : IAsyncDisposable
    {
        private readonly SandboxServer _sim;
        private readonly string _db;
        private readonly int _port;
        private readonly int _controllerPort = FleetUnderTest.FreePort();
        private readonly string _state;

        private VmWorld(SandboxServer sim, int port, string fleet)
        {
            _sim = sim;
            _port = port;
            Fleet = fleet;
            _db = Path.Combine(Path.GetTempPath(), $"{fleet}.db");
            // Short: the monitor socket's path must fit a unix socket's 108 bytes.
            _state = Path.Combine("/tmp", $"rfq{Guid.NewGuid():N}"[..11]);
            sim.Simulator.AddWebhook(new Uri($"http://127.0.0.1:{_controllerPort}/webhooks/github"), Secret);
        }

        private const string Secret = "vm-test-secret-0123456789abcdef0123456789";

        public static string Images => Environment.GetEnvironmentVariable("RUNNERFLEET_QEMU_IMAGES") ?? "/var/cache/runnerfleet/qemu";

        public string Fleet { get; }

        public GitHubSimulator GitHub => _sim.Simulator;

        public string FleetDirectory => Path.Combine(_state, Fleet);

        public static async Task<VmWorld> StartAsync()
        {
            foreach (var file in new[] { "x86_64/vmlinuz", "x86_64/initrd", "x86_64/disk.raw", "aarch64/vmlinuz", "aarch64/initrd", "aarch64/disk.raw" })
            {
                Assert.True(File.Exists(Path.Combine(Images, file)), $"{Path.Combine(Images, file)} is missing: run bash infra/qemu-guest/build.sh (scripts/prepare.sh does)");
            }

            var port = FleetUnderTest.FreePort();
            // The guests reach the simulator at the restricted network's forwarded address, the same port.
            var runnerUrl = $"http://10.0.2.100:{port}";
            var sim = await SandboxServer.StartAsync([$"http://127.0.0.1:{port}"], new GitHubSimulatorOptions { RunnerBaseUrl = runnerUrl, OfflineAfter = TimeSpan.FromSeconds(10) });
            sim.Simulator.EnsureRepository("octo/app");
            return new VmWorld(sim, port, $"vm{Guid.NewGuid():N}"[..10]);
        }

        public Dictionary<string, string> Settings(bool x64Only = false)
        {
            var s = new Dictionary<string, string>
            {
                ["Urls"] = $"http://127.0.0.1:{_controllerPort}",
                ["ConnectionStrings:Fleet"] = $"Data Source={_db}",
                ["GitHub:ApiUrl"] = _sim.BaseUrl.ToString(),
                ["GitHub:WebUrl"] = $"http://10.0.2.100:{_port}",
                ["GitHub:Token"] = "sandbox-token",
                ["GitHub:WebhookSecret"] = Secret,
                ["GitHub:PollInterval"] = "00:00:01",
                ["GitHub:Repositories:0"] = "octo/app",
                ["Fleet:Name"] = Fleet,
                ["Fleet:PlanInterval"] = "00:00:01",
                ["Fleet:ReapInterval"] = "00:00:01",
                ["Fleet:ReconcileInterval"] = "00:00:03",
                ["Qemu:StateDirectory"] = _state,
                ["Qemu:MaxVms"] = "5",
                ["Qemu:AllowedHostPorts:0"] = _port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Qemu:ShutdownGrace"] = "00:00:02",
                ["Serilog:MinimumLevel:Default"] = "Information",
            };
            Pool(s, 0, "vm-x64", "x64", "x86_64", 3);
            if (!x64Only)
            {
                Pool(s, 1, "vm-arm", "arm64", "aarch64", 2);
            }

            return s;
        }

        private static void Pool(Dictionary<string, string> s, int i, string name, string label, string arch, int max)
        {
            var key = $"Fleet:Pools:{i}";
            s[$"{key}:Name"] = name;
            s[$"{key}:Labels:0"] = "linux";
            s[$"{key}:Labels:1"] = label;
            s[$"{key}:Labels:2"] = "vm";
            s[$"{key}:Provider"] = "qemu";
            s[$"{key}:MaxRunners"] = max.ToString(System.Globalization.CultureInfo.InvariantCulture);
            // TCG boots take seconds, an emulated aarch64 guest on a busy machine more: generous.
            s[$"{key}:BootTimeout"] = "00:04:00";
            s[$"{key}:Qemu:Arch"] = arch;
            s[$"{key}:Qemu:Image"] = Path.Combine(Images, arch, "disk.raw");
            s[$"{key}:Qemu:Kernel"] = Path.Combine(Images, arch, "vmlinuz");
            s[$"{key}:Qemu:Initrd"] = Path.Combine(Images, arch, "initrd");
            s[$"{key}:Qemu:Append"] = "quiet";
            s[$"{key}:Qemu:Cpus"] = "1";
            s[$"{key}:Qemu:MemoryMb"] = "384";
        }

        public SqliteFleetStore Store() => new($"Data Source={_db}", TimeProvider.System);

        /// <summary>The controller's runner records; none before its store has its tables.</summary>
        public async Task<IReadOnlyList<RunnerRecord>> RunnersAsync()
        {
            try
            {
                return await Store().ListRunnersAsync(100, CancellationToken.None);
            }
            catch (Microsoft.Data.Sqlite.SqliteException)
            {
                return [];
            }
        }

        public IReadOnlyList<string> VmFolders() => Directory.Exists(FleetDirectory) ? [.. Directory.EnumerateDirectories(FleetDirectory).Select(Path.GetFileName).OfType<string>()] : [];

        /// <summary>The command lines of this test's QEMU processes (found by their state folder).</summary>
        public IReadOnlyList<string> VmProcesses() =>
            [.. Directory.EnumerateDirectories("/proc").Select(d => { try { return File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' '); } catch (IOException) { return ""; } catch (UnauthorizedAccessException) { return ""; } })
                .Where(c => c.Contains("qemu-system", StringComparison.Ordinal) && c.Contains(FleetDirectory, StringComparison.Ordinal))];

        public IReadOnlyList<string> ImageChecksums() =>
            [.. new[] { "x86_64", "aarch64" }.Select(a => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(Images, a, "disk.raw")))))];

        public async Task<string> DescribeAsync(ControllerProcess controller)
        {
            var runners = await RunnersAsync();
            var consoles = string.Join("\n", VmFolders().Select(f => Path.Combine(FleetDirectory, f, "console.log")).Where(File.Exists).Select(f => $"--- {f}\n{Tail(File.ReadAllText(f), 1500)}"));
            return $"runners: {string.Join(", ", runners.Select(r => $"{r.Name}={r.State}({r.FailureReason})"))}; sim jobs: {string.Join(", ", GitHub.AllJobs().Select(j => j.Status))}; " +
                   $"VM folders: {VmFolders().Count}; QEMU processes: {VmProcesses().Count}\n{consoles}\n{Tail(controller.Output, 4000)}";
        }

        // By characters: a console log's length in bytes is more than its text's when it holds UTF-8 or escapes.
        private static string Tail(string text, int chars) => text[^Math.Min(chars, text.Length)..];

        /// <summary>Every job served once, every record final, no VM folder, no QEMU process, no GitHub runner.</summary>
        public async Task AssertEverythingFinishedAsync(int jobs, ControllerProcess controller)
        {
            await FleetUnderTest.WaitUntilAsync(async () =>
                GitHub.AllJobs().All(j => j.Status == "completed")
                && (await RunnersAsync()) is var all && all.All(r => RunnerStateMachine.IsFinal(r.State))
                && all.Count(r => r.State == RunnerState.Gone && r.JobId is not null) == jobs
                && VmFolders().Count == 0 && VmProcesses().Count == 0
                && GitHub.AllRunners().Count == 0, s_timeout, () => DescribeAsync(controller));

            Assert.All(GitHub.AllJobs(), j => Assert.Equal(1, j.Assignments));
            Assert.All(GitHub.AllJobs(), j => Assert.Equal("success", j.Conclusion));
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var line in VmProcesses())
            {
                Debug.WriteLine($"leftover VM: {line}");
            }

            // Whatever a failed test left: its VMs (found by this test's folder) and the folder.
            foreach (var pidFile in Directory.Exists(FleetDirectory) ? Directory.EnumerateFiles(FleetDirectory, "qemu.pid", SearchOption.AllDirectories) : [])
            {
                try
                {
                    using var p = Process.GetProcessById(int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture));
                    p.Kill();
                }
                catch (Exception e) when (e is ArgumentException or FormatException or IOException or InvalidOperationException)
                {
                }
            }

            await _sim.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in new[] { _db, _db + "-wal", _db + "-shm" })
            {
                File.Delete(f);
            }

            try
            {
                Directory.Delete(_state, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }
}
