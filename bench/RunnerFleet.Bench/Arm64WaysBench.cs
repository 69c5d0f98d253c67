using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RunnerFleet.Controller.Providers.Qemu;

namespace RunnerFleet.Bench;

/// <summary>
/// arm64-ways.json: one CPU-bound job (Debian's static busybox: <c>seq 1 4000000 | gzip -9 | wc -c</c>) run the three
/// ways RunnerFleet offers for ARM64 work on this host: natively on the host's own architecture, as an arm64 container
/// under QEMU user-mode emulation (Docker, binfmt_misc), and in a whole ARM64 VM (QEMU system emulation: TCG on an x86
/// host). The job times itself inside each (from <c>/proc/uptime</c>), so container and VM start-up are not in it.
/// Beside it, each test guest's boot (infra/qemu-guest): from QEMU's start to its first command, where the runner starts.
/// A way this machine cannot run (no Docker engine, no QEMU, no guest images) is reported as missing, with the reason.
/// </summary>
internal static class Arm64WaysBench
{
    private const string Images = "/var/cache/runnerfleet/qemu";
    private const string Arm64Image = "runnerfleet/sim-runner:arm64";

    private const string Job = """
        echo "runnerfleet-arch: $(uname -m)"
        read a _ < /proc/uptime
        seq 1 4000000 | gzip -9 | wc -c
        read b _ < /proc/uptime
        echo "runnerfleet-job: $a $b"
        """;

    public static async Task<BenchResult> RunAsync(bool quick, TextWriter progress)
    {
        var figures = new JsonObject();
        var details = new JsonObject();
        var job = Path.Combine(Path.GetTempPath(), $"rf-arm64-ways-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(job, Job.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n").ConfigureAwait(false);
        var rounds = quick ? 1 : 3;
        try
        {
            var native = await MedianAsync(rounds, () => NativeAsync(job)).ConfigureAwait(false);
            var userMode = await MedianAsync(rounds, () => UserModeAsync(job)).ConfigureAwait(false);
            var vm = await MedianAsync(rounds, () => VmJobAsync(job)).ConfigureAwait(false);
            Put(figures, details, "arm64_job_native_s", native);
            Put(figures, details, "arm64_job_user_mode_s", userMode);
            Put(figures, details, "arm64_job_vm_tcg_s", vm);
            if (native.Seconds is { } n && n > 0)
            {
                figures["user_mode_slowdown_x"] = userMode.Seconds is { } u ? Math.Round(u / n, 1) : null;
                figures["vm_tcg_slowdown_x"] = vm.Seconds is { } v ? Math.Round(v / n, 1) : null;
            }

            foreach (var arch in new[] { QemuPoolSettings.X86_64, QemuPoolSettings.Aarch64 })
            {
                var boot = await MedianAsync(rounds, () => BootAsync(arch, job)).ConfigureAwait(false);
                Put(figures, details, $"vm_boot_s_{arch}", boot);
                progress.WriteLine($"  {arch} guest boots in {boot.Seconds?.ToString("F2", CultureInfo.InvariantCulture) ?? "-"} s ({boot.Note})");
            }
        }
        finally
        {
            File.Delete(job);
        }

        details["host_arch"] = QemuPoolSettings.HostArch;
        details["cpu"] = CpuModel();
        details["cores"] = Environment.ProcessorCount;
        details["job"] = "seq 1 4000000 | gzip -9 | wc -c with Debian's busybox-static (the same version for amd64 and arm64), timed inside from /proc/uptime (10 ms resolution)";
        details["ways"] = "native: the host's own architecture (busybox on the host); user_mode: runnerfleet/sim-runner:arm64 under docker run --platform linux/arm64 (qemu-user-static through binfmt_misc); vm_tcg: the aarch64 test guest (Debian's cloud-arm64 kernel, busybox initramfs) under qemu-system-aarch64 -accel tcg -cpu cortex-a57, 1 vCPU";
        details["boot"] = "QEMU started → the guest's init runs its first command (where the runner starts; it comes online one request later), the test guest of infra/qemu-guest with 1 vCPU and 384 MB, the accelerator auto picks";
        return new BenchResult(figures, details);
    }

    private sealed record Measure(double? Seconds, string Note);

    private static void Put(JsonObject figures, JsonObject details, string name, Measure m)
    {
        figures[name] = m.Seconds is { } s ? Math.Round(s, 2) : null;
        details[name] = m.Note;
    }

    private static async Task<Measure> MedianAsync(int rounds, Func<Task<Measure>> measure)
    {
        var all = new List<Measure>();
        for (var i = 0; i < rounds; i++)
        {
            var m = await measure().ConfigureAwait(false);
            if (m.Seconds is null)
            {
                return m;
            }

            all.Add(m);
        }

        var ordered = all.OrderBy(m => m.Seconds).ToList();
        return ordered[ordered.Count / 2];
    }

    private static async Task<Measure> NativeAsync(string job)
    {
        if (!File.Exists("/bin/busybox"))
        {
            return new Measure(null, "no /bin/busybox (apt-get install busybox-static)");
        }

        // Busybox's applets only (an empty PATH): the same programs as in the container and the VM.
        var (code, output) = await RunAsync("/bin/busybox", ["sh", job], new() { ["PATH"] = "/nonexistent" }).ConfigureAwait(false);
        return Parse(code, output, QemuPoolSettings.HostArch ?? "?", "native");
    }

    private static async Task<Measure> UserModeAsync(string job)
    {
        var (code, output) = await RunAsync("docker", ["run", "--rm", "--platform", "linux/arm64", "-v", $"{job}:/job.sh:ro", "--entrypoint", "/bin/sh", Arm64Image, "/job.sh"]).ConfigureAwait(false);
        return code == 0 ? Parse(code, output, QemuPoolSettings.Aarch64, "user_mode") : new Measure(null, $"docker run of {Arm64Image} failed ({code}): {First(output)} (scripts/prepare.sh builds it and turns on binfmt_misc)");
    }

    private static async Task<Measure> VmJobAsync(string job)
    {
        var (seconds, output, note) = await GuestAsync(QemuPoolSettings.Aarch64, job, tcg: true).ConfigureAwait(false);
        return seconds is null ? new Measure(null, note) : Parse(0, output, QemuPoolSettings.Aarch64, "vm_tcg");
    }

    private static async Task<Measure> BootAsync(string arch, string job)
    {
        var (seconds, _, note) = await GuestAsync(arch, job, tcg: false, bootOnly: true).ConfigureAwait(false);
        return new Measure(seconds, note);
    }

    /// <summary>Boots a test guest that runs <paramref name="job"/> and powers off; the seconds until its first command (boot) or its console.</summary>
    private static async Task<(double? Seconds, string Output, string Note)> GuestAsync(string arch, string job, bool tcg, bool bootOnly = false)
    {
        var settings = new QemuPoolSettings { Arch = arch, Image = Path.Combine(Images, arch, "disk.raw"), Kernel = Path.Combine(Images, arch, "vmlinuz"), Initrd = Path.Combine(Images, arch, "initrd"), Cpus = 1, MemoryMb = 384 };
        if (QemuHost.FindOnPath(settings.EffectiveBinary) is null || !File.Exists(settings.Image))
        {
            return (null, string.Empty, $"no {settings.EffectiveBinary} or no test guest in {Images}/{arch} (scripts/prepare.sh)");
        }

        var accelerator = tcg ? "tcg" : (await new QemuHost().AcceleratorAsync(settings).ConfigureAwait(false)).Accelerator ?? "tcg";
        var arm = arch == QemuPoolSettings.Aarch64;
        var args = new List<string>
        {
            "-machine", QemuHost.Machine(arch), "-accel", accelerator, "-cpu", accelerator == "kvm" ? "host" : arm ? "cortex-a57" : "max",
            "-smp", "1", "-m", "384", "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none", "-serial", "stdio",
            "-kernel", settings.Kernel, "-initrd", settings.Initrd!, "-append", $"console={(arm ? "ttyAMA0" : "ttyS0")} panic=-1 quiet",
            "-drive", $"file={settings.Image},if=virtio,format=raw,snapshot=on", "-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-pci,netdev=net0",
            "-fw_cfg", $"name=opt/runnerfleet/job,file={job}",
        };
        var started = Stopwatch.StartNew();
        double? booted = null;
        var psi = new ProcessStartInfo(settings.EffectiveBinary) { RedirectStandardOutput = true, RedirectStandardError = true };
        args.ForEach(psi.ArgumentList.Add);
        using var qemu = Process.Start(psi)!;
        var stderr = qemu.StandardError.ReadToEndAsync();
        var output = new System.Text.StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            while (await qemu.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false) is { } line)
            {
                output.AppendLine(line);
                if (booted is null && line.Contains("runnerfleet-guest: booted", StringComparison.Ordinal))
                {
                    booted = started.Elapsed.TotalSeconds;
                }
            }

            await qemu.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            qemu.Kill();
            return (null, output.ToString(), $"the {arch} guest did not finish within 5 minutes");
        }

        var note = $"{arch} guest, {accelerator}";
        if (booted is null)
        {
            return (null, output.ToString(), $"{note}: it never booted (exit {qemu.ExitCode}: {First(await stderr.ConfigureAwait(false) + output)})");
        }

        return (bootOnly ? booted : started.Elapsed.TotalSeconds, output.ToString(), note);
    }

    private static Measure Parse(int code, string output, string arch, string way)
    {
        var seen = output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("runnerfleet-arch: ", StringComparison.Ordinal))?["runnerfleet-arch: ".Length..];
        var times = output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("runnerfleet-job: ", StringComparison.Ordinal))?["runnerfleet-job: ".Length..].Split(' ');
        if (code != 0 || times is not [var a, var b] || seen != arch)
        {
            return new Measure(null, $"{way}: the job did not run as {arch} (exit {code}, arch {seen ?? "?"}): {First(output)}");
        }

        return new Measure(double.Parse(b, CultureInfo.InvariantCulture) - double.Parse(a, CultureInfo.InvariantCulture), $"{way} ({seen})");
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, IReadOnlyList<string> args, Dictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            psi.Environment.Clear();
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        try
        {
            using var p = Process.Start(psi)!;
            var error = p.StandardError.ReadToEndAsync();
            var output = await p.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
            await p.WaitForExitAsync().ConfigureAwait(false);
            return (p.ExitCode, output + await error.ConfigureAwait(false));
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }

    private static string First(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "no output";

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
