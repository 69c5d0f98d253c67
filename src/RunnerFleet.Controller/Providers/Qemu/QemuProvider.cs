using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Qemu;

/// <summary>
/// Runners in QEMU virtual machines on this host, one VM per runner. A VM boots the pool's image in snapshot mode (its
/// writes go to an overlay QEMU deletes itself, kept in the VM's folder, so not even a <c>kill -9</c> leaves one), is
/// handed the runner's JIT config (or registration token) through the QEMU firmware config (<c>opt/runnerfleet/runner</c>,
/// read from a 0600 file the provider deletes once QEMU has loaded it: it is never on a command line), and is found again
/// by its folder (<c>{StateDirectory}/{fleet}/{runner}</c>: pid file, monitor socket, console log). Teardown asks the
/// guest to power off through the QEMU monitor (<c>system_powerdown</c>) and kills it after <c>Qemu:ShutdownGrace</c>.
/// </summary>
internal sealed partial class QemuProvider(IOptions<QemuOptions> options, PoolCatalog pools, QemuHost host, TimeProvider time, ILogger<QemuProvider> logger) : IRunnerProvider
{
    public const string KindName = "qemu";

    private const string Settings = "runner.env";
    private const string Meta = "vm.json";
    /// <summary>QEMU's own pid file (it deletes it as it exits).</summary>
    private const string QemuPidFile = "qemu.pid";

    /// <summary>The provider's copy, written once the VM started and kept after it exits: started, then exited.</summary>
    private const string PidFile = "vm.pid";
    private const string Socket = "qmp.sock";
    private const string Console = "console.log";

    private readonly QemuOptions _options = options.Value;
    private readonly string _fleetDir = Path.Combine(options.Value.StateDirectory, pools.FleetName);
    private readonly SemaphoreSlim _gate = new(1, 1);

    public string Kind => KindName;

    /// <summary>The folder of a runner's VM.</summary>
    public string VmDirectory(string runnerName) => Path.Combine(_fleetDir, runnerName);

    public async Task<ProvisionedRunner> CreateAsync(RunnerLaunch launch, CancellationToken ct)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new ProviderException("create_failed", "the QEMU provider runs on Linux and macOS");
        }

        var settings = launch.Pool.ProviderSettingsAs<QemuPoolSettings>();
        var dir = VmDirectory(launch.Name);
        if (Encoding.UTF8.GetByteCount(Path.Combine(dir, Socket)) > 100)
        {
            throw new ProviderException("create_failed", $"the VM's monitor socket path would be longer than a unix socket allows: choose a shorter Qemu:StateDirectory (was '{_options.StateDirectory}')");
        }

        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // Idempotent by name: a VM that was started is returned as it is (running or done with its job).
            if (Read(launch.Name) is { Status: not ProvisionedStatus.Created } existing)
            {
                return existing;
            }

            // A folder with no VM: a create that died half-way. Start it over.
            DeleteDirectory(dir);
            var live = List().Count(v => v.Status == ProvisionedStatus.Running);
            if (live >= _options.MaxVms)
            {
                throw new ProviderException("no_capacity", $"this host runs {live} VMs, Qemu:MaxVms {_options.MaxVms}");
            }

            var (accelerator, problem) = await host.AcceleratorAsync(settings).ConfigureAwait(false);
            if (accelerator is null)
            {
                throw new ProviderException("create_failed", $"accelerator {settings.Accelerator} is not available: {problem}");
            }

            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            await File.WriteAllTextAsync(Path.Combine(dir, Meta), JsonSerializer.Serialize(new VmMeta(launch.Pool.Name, launch.Name, accelerator, time.GetUtcNow())), ct).ConfigureAwait(false);
            var secrets = new[] { Settings, "job-started.sh", "runner.conf" }.Select(f => Path.Combine(dir, f)).ToArray();
            try
            {
                WritePrivate(secrets[0], RunnerSettings(launch));
                WritePrivate(secrets[1], RunnerHook.Script);
                WritePrivate(secrets[2], RunnerHook.Settings(launch.Pool));
                await StartAsync(settings, accelerator, dir, ct).ConfigureAwait(false);
            }
            catch
            {
                // Cancelled or failed after QEMU was started: its daemon may be setting up or running. Kill it first.
                KillVm(dir);
                DeleteDirectory(dir);
                throw;
            }
            finally
            {
                // QEMU read the firmware config files as it started (before its parent process returned): the secret
                // leaves the disk now.
                foreach (var f in secrets)
                {
                    File.Delete(f);
                }
            }

            LogStarted(logger, launch.Name, launch.Pool.Name, settings.Arch, accelerator);
            return Read(launch.Name) ?? throw new ProviderException("create_failed", "the VM exited as it started; see its console log");
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task DestroyAsync(ProvisionedRunner runner, CancellationToken ct)
    {
        var dir = VmDirectory(runner.ResourceId);
        if (!Directory.Exists(dir))
        {
            return;
        }

        if (LivePid(dir) is not null)
        {
            try
            {
                using var asked = CancellationTokenSource.CreateLinkedTokenSource(ct);
                asked.CancelAfter(TimeSpan.FromSeconds(5));
                await Qmp.ExecuteAsync(Path.Combine(dir, Socket), "system_powerdown", asked.Token).ConfigureAwait(false);
                var until = time.GetUtcNow() + _options.ShutdownGrace;
                while (LivePid(dir) is not null && time.GetUtcNow() < until)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), time, ct).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or JsonException && !ct.IsCancellationRequested)
            {
                LogMonitorUnreachable(logger, runner.ResourceId, e.Message);
            }

            if (LivePid(dir) is not null)
            {
                KillVm(dir);
                LogKilled(logger, runner.ResourceId, _options.ShutdownGrace);
                for (var i = 0; i < 50 && LivePid(dir) is not null; i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct).ConfigureAwait(false);
                }
            }

            if (LivePid(dir) is { } still)
            {
                // Its folder is how the VM is found: kept until the process is gone (the next teardown round retries).
                throw new ProviderException("destroy_failed", $"VM {runner.ResourceId} (pid {still}) still runs 5 s after SIGKILL");
            }
        }

        DeleteDirectory(dir);
    }

    public async IAsyncEnumerable<ProvisionedRunner> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var vm in List())
        {
            ct.ThrowIfCancellationRequested();
            yield return vm;
        }
    }

    private List<ProvisionedRunner> List()
    {
        var vms = new List<ProvisionedRunner>();
        foreach (var d in Directory.Exists(_fleetDir) ? Directory.EnumerateDirectories(_fleetDir) : [])
        {
            try
            {
                if (Read(Path.GetFileName(d)) is { } vm)
                {
                    vms.Add(vm);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
            {
                // One VM's folder (its console is the guest's to write) must not hide the others from the reaper.
                LogUnreadable(logger, Path.GetFileName(d), e.Message);
            }
        }

        return vms;
    }

    private ProvisionedRunner? Read(string name)
    {
        var dir = VmDirectory(name);
        if (!Directory.Exists(dir))
        {
            return null;
        }

        VmMeta? meta = null;
        try
        {
            meta = JsonSerializer.Deserialize<VmMeta>(File.ReadAllText(Path.Combine(dir, Meta)));
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
        }

        var status = LivePid(dir) is not null ? ProvisionedStatus.Running
            : File.Exists(Path.Combine(dir, PidFile)) ? ProvisionedStatus.Exited
            : ProvisionedStatus.Created;
        return new ProvisionedRunner
        {
            ResourceId = name,
            RunnerName = meta?.Runner ?? name,
            Pool = meta?.Pool,
            Endpoint = "qemu",
            Status = status,
            ExitCode = status == ProvisionedStatus.Exited ? ExitCodeFromConsole(dir) : null,
        };
    }

    /// <summary>
    /// The pid of the VM's QEMU while it runs: from the provider's copy, or from QEMU's own file when the provider never
    /// wrote its copy (a controller killed between starting QEMU and writing it).
    /// </summary>
    private static int? LivePid(string dir)
    {
        foreach (var file in new[] { PidFile, QemuPidFile })
        {
            try
            {
                if (int.TryParse(File.ReadAllText(Path.Combine(dir, file)).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && QemuHost.IsVmProcess(pid, dir))
                {
                    return pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return null;
    }

    /// <summary>SIGKILL to the VM's QEMU, if one runs.</summary>
    private static void KillVm(string dir)
    {
        if (LivePid(dir) is { } pid)
        {
            Kill(pid);
        }
    }

    /// <summary>A guest may end its console with <c>runnerfleet-guest: runner exited (N)</c> (infra/qemu-guest/init does): the runner's exit code.</summary>
    private static int? ExitCodeFromConsole(string dir)
    {
        try
        {
            // Its end only: the guest writes the console, as much as it likes.
            using var file = new FileStream(Path.Combine(dir, Console), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            file.Seek(Math.Max(0, file.Length - 4096), SeekOrigin.Begin);
            using var reader = new StreamReader(file, Encoding.UTF8);
            var match = ExitLine().Matches(reader.ReadToEnd()).LastOrDefault();
            return match is not null && int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? code : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private async Task StartAsync(QemuPoolSettings s, string accelerator, string dir, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(s.EffectiveBinary) { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = dir };
        foreach (var a in Arguments(s, accelerator, dir, _options))
        {
            psi.ArgumentList.Add(a);
        }

        // -snapshot's overlay is a temporary file QEMU unlinks at once: in the VM's folder, not the host's /var/tmp.
        psi.Environment["TMPDIR"] = dir;
        using var qemu = Process.Start(psi) ?? throw new ProviderException("create_failed", $"{s.EffectiveBinary} could not be started");
        var stderr = qemu.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            // -daemonize: the parent returns once the VM is set up (firmware config files read) and running.
            await qemu.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            qemu.Kill(entireProcessTree: true);
            KillVm(dir);
            if (ct.IsCancellationRequested)
            {
                throw;
            }

            throw new ProviderException("create_failed", "QEMU did not set the VM up within 60 s");
        }

        if (qemu.ExitCode != 0)
        {
            var error = (await stderr.ConfigureAwait(false)).Trim();
            throw new ProviderException("create_failed", $"QEMU refused to start the VM (exit {qemu.ExitCode}): {(error.Length == 0 ? "no message" : error.Split('\n')[0])}");
        }

        // QEMU wrote its pid file before its parent returned, and deletes it as it exits (a guest may already have
        // powered off): the provider's own copy says the VM was started, and by which process.
        string pid;
        try
        {
            pid = (await File.ReadAllTextAsync(Path.Combine(dir, QemuPidFile), CancellationToken.None).ConfigureAwait(false)).Trim();
        }
        catch (FileNotFoundException)
        {
            pid = "0";
        }

        await File.WriteAllTextAsync(Path.Combine(dir, PidFile), pid, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>The QEMU command line of a VM (no secret on it: the runner's settings are a firmware config file).</summary>
    internal static IReadOnlyList<string> Arguments(QemuPoolSettings s, string accelerator, string dir, QemuOptions options)
    {
        var arm = s.Arch == QemuPoolSettings.Aarch64;
        var args = new List<string>
        {
            "-name", $"runnerfleet-{Path.GetFileName(dir)}",
            "-machine", QemuHost.Machine(s.Arch),
            "-accel", accelerator,
            // TCG: a CPU the emulator runs quickly (cortex-a57 leaves out pointer authentication, which is slow to emulate).
            "-cpu", accelerator is "kvm" or "hvf" ? "host" : arm ? "cortex-a57" : "max",
            "-smp", s.Cpus.ToString(CultureInfo.InvariantCulture),
            "-m", s.MemoryMb.ToString(CultureInfo.InvariantCulture),
            "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none",
            "-serial", $"file:{Path.Combine(dir, Console)}",
            "-drive", $"file={Escape(s.Image!)},if=virtio,format={s.EffectiveImageFormat},snapshot=on",
            "-netdev", Network(s, options),
            "-device", "virtio-net-pci,netdev=net0",
            "-fw_cfg", $"name=opt/runnerfleet/runner,file={Escape(Path.Combine(dir, Settings))}",
            "-fw_cfg", $"name=opt/runnerfleet/job-started.sh,file={Escape(Path.Combine(dir, "job-started.sh"))}",
            "-fw_cfg", $"name=opt/runnerfleet/runner.conf,file={Escape(Path.Combine(dir, "runner.conf"))}",
            "-qmp", $"unix:{Escape(Path.Combine(dir, Socket))},server=on,wait=off",
            "-pidfile", Path.Combine(dir, QemuPidFile),
            "-daemonize",
        };
        if (s.Kernel is { } kernel)
        {
            args.AddRange(["-kernel", kernel]);
            args.AddRange(["-append", $"console={(arm ? "ttyAMA0" : "ttyS0")} panic=-1 {s.Append}".Trim()]);
            if (s.Initrd is { } initrd)
            {
                args.AddRange(["-initrd", initrd]);
            }
        }

        if (s.Firmware is { } firmware)
        {
            args.AddRange(["-bios", firmware]);
        }

        return args;
    }

    /// <summary>User-mode networking: restricted, the guest reaches only the allowed host ports (each connection handed to the forward command); open, everything the host reaches.</summary>
    internal static string Network(QemuPoolSettings s, QemuOptions options)
    {
        if (s.Network == QemuPoolSettings.NetworkOpen)
        {
            return "user,id=net0";
        }

        var net = new StringBuilder("user,id=net0,restrict=on");
        foreach (var port in options.AllowedHostPorts)
        {
            var p = port.ToString(CultureInfo.InvariantCulture);
            net.Append(CultureInfo.InvariantCulture, $",guestfwd=tcp:{QemuOptions.GuestHostAddress}:{p}-cmd:{options.ForwardCommand.Replace("{port}", p, StringComparison.Ordinal)}");
        }

        return net.ToString();
    }

    /// <summary>QEMU option values double a comma to mean a literal one.</summary>
    private static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);

    /// <summary>The runner's settings as the guest reads them: one <c>key=value</c> a line.</summary>
    private static string RunnerSettings(RunnerLaunch launch)
    {
        var lines = new StringBuilder();
        lines.Append(CultureInfo.InvariantCulture, $"name={launch.Name}\n");
        if (launch.JitConfig is { } jit)
        {
            lines.Append(CultureInfo.InvariantCulture, $"jitconfig={jit}\n");
        }
        else
        {
            lines.Append(CultureInfo.InvariantCulture, $"url={launch.RegistrationUrl}\ntoken={launch.RegistrationToken}\nlabels={string.Join(',', launch.Pool.Labels)}\n");
        }

        return lines.ToString();
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void WritePrivate(string path, string text)
    {
        using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
        var bytes = Encoding.UTF8.GetBytes(text);
        file.Write(bytes);
    }

    private static void Kill(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            p.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    private static void DeleteDirectory(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private sealed record VmMeta(string Pool, string Runner, string Accelerator, DateTimeOffset Started);

    [GeneratedRegex(@"runnerfleet-guest: runner exited \((\d+)\)")]
    private static partial Regex ExitLine();

    [LoggerMessage(Level = LogLevel.Information, Message = "Runner {Runner}: VM started for pool {Pool} ({Arch}, {Accelerator})")]
    private static partial void LogStarted(ILogger logger, string runner, string pool, string arch, string accelerator);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {Runner}: its monitor did not take system_powerdown ({Problem}); killing it")]
    private static partial void LogMonitorUnreachable(ILogger logger, string runner, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM folder {Folder} could not be read ({Problem}); skipped")]
    private static partial void LogUnreadable(ILogger logger, string folder, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {Runner}: still running {Grace} after system_powerdown; killed")]
    private static partial void LogKilled(ILogger logger, string runner, TimeSpan grace);
}
