using System.Net;
using System.Net.Sockets;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers.Docker;

namespace RunnerFleet.IntegrationTests;

/// <summary>What a job inside a runner container can reach: not the host's ports, not other runners, not the Docker socket.</summary>
[Trait("Category", "Security")]
[Collection(nameof(DockerCollection))]
public sealed class IsolationTests(DockerEnvironment docker)
{
    private static readonly string[] s_linux = ["self-hosted", "linux"];

    [Fact]
    public async Task A_runner_cannot_reach_the_hosts_ports_another_runner_or_the_docker_socket_but_reaches_github()
    {
        // A stand-in for anything listening on the host: the controller's API, a TCP Docker socket, a database.
        using var hostService = new TcpListener(IPAddress.Any, 0);
        hostService.Start();
        var hostPort = ((IPEndPoint)hostService.LocalEndpoint).Port;
        _ = AcceptForeverAsync(hostService);
        var network = $"rf-iso-{Guid.NewGuid():N}"[..14];
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"],
            [new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "2", ["Docker:Network"] = network }]);
        try
        {
            fleet.GitHub.QueueJobs("octo/app", s_linux, 2, TimeSpan.FromSeconds(25));
            await FleetUnderTest.WaitUntilAsync(async () => (await fleet.Store.ListActiveRunnersAsync(CancellationToken.None)).Count(r => r.State == RunnerState.Busy) == 2,
                TimeSpan.FromMinutes(1), fleet.DescribeAsync);
            var containers = await DockerEnvironment.ContainersAsync(fleet.Fleet);
            Assert.Equal(2, containers.Count);
            var (a, b) = (containers[0], containers[1]);
            var bAddress = (await DockerEnvironment.DockerAsync("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", b)).Output.Trim();
            await DockerEnvironment.DockerAsync("exec", "-d", b, "/bin/busybox", "nc", "-l", "-p", "7777");

            // Control: from the test's own (unfirewalled) network the host service and a listening container answer.
            Assert.Equal(0, await ProbeAsync(docker.Network, docker.Gateway, hostPort));

            // From a runner: the host's port is refused, the other runner is unreachable, there is no Docker socket.
            Assert.NotEqual(0, await ExecProbeAsync(a, docker.Gateway, hostPort));
            Assert.NotEqual(0, await ExecProbeAsync(a, bAddress, 7777));
            Assert.NotEqual(0, (await DockerEnvironment.DockerAsync("exec", a, "/bin/busybox", "test", "-e", "/var/run/docker.sock")).Code);

            // ...while GitHub (the simulator, an allowed host port) is reachable: both jobs run to success.
            await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync(), TimeSpan.FromMinutes(1), fleet.DescribeAsync);
            Assert.All(fleet.GitHub.AllJobs(), j => Assert.Equal("success", j.Conclusion));

            var chain = (await Iptables("-S", HostFirewall.ChainName(fleet.Fleet))).Output;
            Assert.Contains("REJECT", chain, StringComparison.Ordinal);
            Assert.Contains($"--dport {fleet.Sim.BaseUrl.Port}", chain, StringComparison.Ordinal);
        }
        finally
        {
            var bridge = HostFirewall.BridgeName(network);
            await Iptables("-D", "INPUT", "-i", bridge, "-j", HostFirewall.ChainName(fleet.Fleet));
            await Iptables("-F", HostFirewall.ChainName(fleet.Fleet));
            await Iptables("-X", HostFirewall.ChainName(fleet.Fleet));
            foreach (var id in await DockerEnvironment.ContainersAsync(fleet.Fleet))
            {
                await DockerEnvironment.DockerAsync("rm", "-f", id);
            }

            await DockerEnvironment.DockerAsync("network", "rm", network);
        }
    }

    private static async Task<int> ExecProbeAsync(string container, string host, int port) =>
        (await DockerEnvironment.DockerAsync("exec", container, "/bin/sh", "-c", $"/bin/busybox nc -w 3 {host} {port} </dev/null")).Code;

    private static async Task<int> ProbeAsync(string network, string host, int port) =>
        (await DockerEnvironment.DockerAsync("run", "--rm", "--network", network, "--entrypoint", "/bin/sh", DockerEnvironment.Image, "-c", $"/bin/busybox nc -w 3 {host} {port} </dev/null")).Code;

    private static async Task<(int Code, string Output)> Iptables(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("iptables") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-w", .. args])
        {
            start.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(start)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, output);
    }

    private static async Task AcceptForeverAsync(TcpListener listener)
    {
        try
        {
            while (true)
            {
                using var client = await listener.AcceptTcpClientAsync();
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException or InvalidOperationException)
        {
        }
    }
}
