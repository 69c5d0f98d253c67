namespace RunnerFleet.Controller.Providers.Qemu;

/// <summary>The <c>Qemu</c> section: what every QEMU pool on this host shares.</summary>
internal sealed class QemuOptions
{
    public const string Section = "Qemu";

    /// <summary>Where the guest reaches the host ports of <see cref="AllowedHostPorts"/> on a restricted network.</summary>
    public const string GuestHostAddress = "10.0.2.100";

    /// <summary>Each VM's folder (pid file, monitor socket, console log) lives under it, in a folder per fleet.</summary>
    public string StateDirectory { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "runnerfleet", "qemu");

    /// <summary>VMs at most on this host, all QEMU pools together.</summary>
    public int MaxVms { get; set; } = 4;

    /// <summary>Host TCP ports (on 127.0.0.1) a restricted guest may reach, at <see cref="GuestHostAddress"/> and the same port.</summary>
    public List<int> AllowedHostPorts { get; set; } = [];

    /// <summary>
    /// The command QEMU runs for each guest connection to an allowed port, with stdin and stdout as the connection;
    /// <c>{port}</c> is the port. Default: busybox's netcat.
    /// </summary>
    public string ForwardCommand { get; set; } = "busybox nc 127.0.0.1 {port}";

    /// <summary>How long a VM has to power off after the monitor's <c>system_powerdown</c> before it is killed.</summary>
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(20);
}
