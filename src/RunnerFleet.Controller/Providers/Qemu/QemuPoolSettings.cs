using System.Runtime.InteropServices;

namespace RunnerFleet.Controller.Providers.Qemu;

/// <summary>
/// <c>Fleet:Pools:N:Qemu</c>: how a QEMU pool's virtual machines are made. Each runner gets a VM of its own, booted from
/// <see cref="Image"/> in snapshot mode (its writes go to a throw-away overlay; the image never changes).
/// </summary>
internal sealed class QemuPoolSettings
{
    public const string X86_64 = "x86_64";
    public const string Aarch64 = "aarch64";

    /// <summary>The base disk image (qcow2 or raw), never written to.</summary>
    public string? Image { get; set; }

    /// <summary><c>qcow2</c> or <c>raw</c>; default from the image's extension (<c>.qcow2</c>, else raw).</summary>
    public string? ImageFormat { get; set; }

    /// <summary>A kernel to boot directly (with <see cref="Initrd"/> and <see cref="Append"/>); else the image boots itself.</summary>
    public string? Kernel { get; set; }

    public string? Initrd { get; set; }

    /// <summary>Kernel command line beside the console the provider sets. Never put a secret here: the host's process list shows it.</summary>
    public string? Append { get; set; }

    /// <summary>Firmware for an image that boots itself (<c>-bios</c>), e.g. an aarch64 UEFI build (qemu-efi-aarch64's QEMU_EFI.fd).</summary>
    public string? Firmware { get; set; }

    /// <summary><c>x86_64</c> or <c>aarch64</c>; default: the host's.</summary>
    public string Arch { get; set; } = HostArch ?? X86_64;

    public int Cpus { get; set; } = 2;

    public int MemoryMb { get; set; } = 2048;

    /// <summary><c>auto</c> (KVM when it works here for the guest's architecture, HVF on macOS likewise, else TCG), <c>kvm</c>, <c>hvf</c> or <c>tcg</c>.</summary>
    public string Accelerator { get; set; } = "auto";

    /// <summary>The QEMU system emulator; default <c>qemu-system-{Arch}</c> on the PATH.</summary>
    public string? Binary { get; set; }

    /// <summary>
    /// <c>restricted</c> (default): QEMU's user-mode network with no way out but the host ports in <c>Qemu:AllowedHostPorts</c>,
    /// which the guest reaches at <see cref="QemuOptions.GuestHostAddress"/>. <c>open</c>: user-mode NAT to everything
    /// the host reaches, its own loopback included (10.0.2.2): only for trusted jobs.
    /// </summary>
    public string Network { get; set; } = NetworkRestricted;

    public const string NetworkRestricted = "restricted";
    public const string NetworkOpen = "open";

    public string EffectiveBinary => string.IsNullOrWhiteSpace(Binary) ? $"qemu-system-{Arch}" : Binary;

    public string EffectiveImageFormat => ImageFormat ?? (Image?.EndsWith(".qcow2", StringComparison.OrdinalIgnoreCase) == true ? "qcow2" : "raw");

    public static string? HostArch => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => X86_64,
        Architecture.Arm64 => Aarch64,
        _ => null,
    };

    internal static IEnumerable<string> Validate(QemuPoolSettings s, string key)
    {
        if (string.IsNullOrWhiteSpace(s.Image))
        {
            yield return $"{key}:Image must name the base disk image (qcow2 or raw).";
        }
        else if (!Path.IsPathFullyQualified(s.Image))
        {
            yield return $"{key}:Image must be an absolute path (was '{s.Image}').";
        }
        else if (!File.Exists(s.Image))
        {
            yield return $"{key}:Image '{s.Image}' does not exist (infra/qemu-guest/build.sh makes test images; README, 'QEMU VMs', a production one).";
        }

        if (s.ImageFormat is { } format && format is not ("qcow2" or "raw"))
        {
            yield return $"{key}:ImageFormat must be qcow2 or raw (was '{format}').";
        }

        foreach (var (path, field) in new[] { (s.Kernel, "Kernel"), (s.Initrd, "Initrd"), (s.Firmware, "Firmware") })
        {
            if (path is not null && (!Path.IsPathFullyQualified(path) || !File.Exists(path)))
            {
                yield return $"{key}:{field} '{path}' does not exist (an absolute path).";
            }
        }

        if (s.Initrd is not null && s.Kernel is null)
        {
            yield return $"{key}:Initrd needs {key}:Kernel (direct kernel boot).";
        }

        if (s.Arch == Aarch64 && s.Kernel is null && s.Firmware is null)
        {
            // The virt machine has no firmware of its own: nothing would boot.
            yield return $"{key}:Firmware (e.g. /usr/share/qemu-efi-aarch64/QEMU_EFI.fd) or {key}:Kernel is needed for an aarch64 VM.";
        }

        if (s.Arch is not (X86_64 or Aarch64))
        {
            yield return $"{key}:Arch must be x86_64 or aarch64 (was '{s.Arch}').";
        }

        if (s.Accelerator is not ("auto" or "kvm" or "hvf" or "tcg"))
        {
            yield return $"{key}:Accelerator must be auto, kvm, hvf or tcg (was '{s.Accelerator}').";
        }

        if (s.Cpus < 1 || s.MemoryMb < 64)
        {
            yield return $"{key} limits must be positive: Cpus >= 1, MemoryMb >= 64 (were {s.Cpus}, {s.MemoryMb}).";
        }

        if (s.Network is not (NetworkRestricted or NetworkOpen))
        {
            yield return $"{key}:Network must be restricted or open (was '{s.Network}').";
        }

        if (s.Arch is X86_64 or Aarch64 && QemuHost.FindOnPath(s.EffectiveBinary) is null)
        {
            yield return $"{key}:Binary '{s.EffectiveBinary}' was not found (on Debian: apt-get install {(s.Arch == Aarch64 ? "qemu-system-arm" : "qemu-system-x86")}).";
        }
    }

    internal static IReadOnlyDictionary<string, object?> Describe(QemuPoolSettings s) => new Dictionary<string, object?>
    {
        ["image"] = s.Image, ["arch"] = s.Arch, ["cpus"] = s.Cpus, ["memoryMb"] = s.MemoryMb, ["accelerator"] = s.Accelerator, ["network"] = s.Network,
    };
}
