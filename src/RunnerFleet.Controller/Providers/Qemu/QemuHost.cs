using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace RunnerFleet.Controller.Providers.Qemu;

/// <summary>What this host can run: binaries on the PATH, which accelerator works for a guest, whether a VM's process lives.</summary>
internal sealed class QemuHost
{
    private readonly ConcurrentDictionary<(string Binary, string Arch, string Requested), Task<(string? Accelerator, string? Problem)>> _accelerators = new();

    public static string? FindOnPath(string program)
    {
        if (program.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(program) ? program : null;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static string Machine(string arch) => arch == QemuPoolSettings.Aarch64 ? "virt" : "q35";

    /// <summary>
    /// The accelerator a pool's VMs use, or why the one asked for cannot be: <c>auto</c> is HVF on macOS and KVM on Linux
    /// when the guest is of the host's architecture and the accelerator works (a VM is made and quit before any runner
    /// uses it: a /dev/kvm that opens but cannot run a vCPU is seen here, not in a runner), else TCG.
    /// </summary>
    public async Task<(string? Accelerator, string? Problem)> AcceleratorAsync(QemuPoolSettings settings)
    {
        var key = (settings.EffectiveBinary, settings.Arch, settings.Accelerator);
        var answer = await _accelerators.GetOrAdd(key, k => ResolveAsync(k.Binary, k.Arch, k.Requested)).ConfigureAwait(false);
        if (answer.Accelerator is null)
        {
            // Not kept: a probe that failed on a busy host is asked again by the next create.
            _accelerators.TryRemove(key, out _);
        }

        return answer;
    }

    private static async Task<(string?, string?)> ResolveAsync(string binary, string arch, string requested)
    {
        var native = QemuPoolSettings.HostArch == arch;
        switch (requested)
        {
            case "tcg":
                return ("tcg", null);
            case "hvf":
                return OperatingSystem.IsMacOS() && native ? ("hvf", null) : (null, $"HVF needs macOS and a guest of the host's architecture ({QemuPoolSettings.HostArch}), not {arch} on {Environment.OSVersion.Platform}");
            case "kvm":
                if (!OperatingSystem.IsLinux() || !native)
                {
                    return (null, $"KVM needs Linux and a guest of the host's architecture ({QemuPoolSettings.HostArch}), not {arch}");
                }

                return await ProbeKvmAsync(binary, arch).ConfigureAwait(false) is { } problem ? (null, problem) : ("kvm", null);
            default:
                if (OperatingSystem.IsMacOS() && native)
                {
                    return ("hvf", null);
                }

                return OperatingSystem.IsLinux() && native && await ProbeKvmAsync(binary, arch).ConfigureAwait(false) is null ? ("kvm", null) : ("tcg", null);
        }
    }

    /// <summary>Null when a KVM VM of the guest's machine type starts and quits here; else what went wrong.</summary>
    private static async Task<string?> ProbeKvmAsync(string binary, string arch)
    {
        if (!File.Exists("/dev/kvm"))
        {
            return "/dev/kvm does not exist (no KVM module, or not passed into this machine)";
        }

        try
        {
            using (File.Open("/dev/kvm", FileMode.Open, FileAccess.ReadWrite))
            {
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return $"/dev/kvm cannot be opened ({e.Message}; the controller's user needs the kvm group)";
        }

        var psi = new ProcessStartInfo(binary) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-machine", Machine(arch), "-accel", "kvm", "-cpu", "host", "-nodefaults", "-no-user-config", "-display", "none", "-S", "-qmp", "stdio" })
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            using var probe = Process.Start(psi)!;
            var error = probe.StandardError.ReadToEndAsync();
            var output = probe.StandardOutput.ReadToEndAsync();
            try
            {
                await probe.StandardInput.WriteAsync("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n").ConfigureAwait(false);
                probe.StandardInput.Close();
            }
            catch (IOException)
            {
                // It exited before reading its monitor (a vCPU KVM cannot run aborts QEMU at once): its exit code says so.
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await probe.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                probe.Kill();
                return "a KVM test VM did not quit within 30 s";
            }

            await output.ConfigureAwait(false);
            var stderr = (await error.ConfigureAwait(false)).Trim();
            return probe.ExitCode == 0 ? null : $"a KVM test VM failed ({(stderr.Length == 0 ? $"exit {probe.ExitCode}" : stderr.Split('\n')[0])})";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            // A probe that cannot even run says no: auto falls back to TCG, and a pool that asked for kvm names its key.
            return $"{binary} could not be run as a KVM test VM ({e.Message})";
        }
    }

    /// <summary>Whether the process of <paramref name="pid"/> is the QEMU of the VM in <paramref name="vmDir"/> (not a pid reused since).</summary>
    public static bool IsVmProcess(int pid, string vmDir)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                var cmdline = File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/cmdline"));
                return cmdline.Contains(vmDir, StringComparison.Ordinal);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }

        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited && p.ProcessName.Contains("qemu", StringComparison.OrdinalIgnoreCase);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
