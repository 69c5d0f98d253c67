using System.Net;
using System.Net.Sockets;
using RunnerFleet.Controller.Fleet;
using Microsoft.Extensions.DependencyInjection;
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

    /// <summary>
    /// A runner cannot reach the cloud metadata address (or any private network) through the host, while a
    /// container on an unfirewalled network can: the fake metadata server lives at 169.254.169.254 in a network
    /// namespace this test makes (never a real metadata service). A firewall rule lost to a reload comes back.
    /// Before the fix only traffic to the host itself was filtered, and the runner reached the address.
    /// </summary>
    [Fact]
    public async Task A_runner_cannot_reach_the_metadata_address_through_the_host_and_lost_rules_come_back()
    {
        var ns = $"rfmeta{Guid.NewGuid():N}"[..12];
        var (hostSide, nsSide) = ($"{ns}h"[..13], $"{ns}n"[..13]);
        var web = Directory.CreateTempSubdirectory("rf-meta-").FullName;
        await File.WriteAllTextAsync(Path.Combine(web, "index.html"), "instance-id: i-fake\n", TestContext.Current.CancellationToken);
        var network = $"rf-md-{Guid.NewGuid():N}"[..13];
        System.Diagnostics.Process? server = null;
        try
        {
            foreach (var command in new[]
            {
                $"netns add {ns}", $"link add {hostSide} type veth peer name {nsSide}", $"link set {nsSide} netns {ns}",
                $"addr add 169.254.169.253/30 dev {hostSide}", $"link set {hostSide} up",
                $"-n {ns} addr add 169.254.169.254/30 dev {nsSide}", $"-n {ns} link set {nsSide} up", $"-n {ns} link set lo up",
                $"-n {ns} route add default via 169.254.169.253",
            })
            {
                Assert.Equal(0, (await RunAsync("ip", command.Split(' '))).Code);
            }

            server = System.Diagnostics.Process.Start("ip", ["netns", "exec", ns, "/bin/busybox", "httpd", "-f", "-p", "169.254.169.254:80", "-h", web]);
            await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"],
                [new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "1", ["Docker:Network"] = network, ["Docker:RequireFirewall"] = "true" }]);
            try
            {
                // Control: from the test's own (unfirewalled) network, the fake metadata server answers.
                await FleetUnderTest.WaitUntilAsync(async () => await ProbeAsync(docker.Network, "169.254.169.254", 80) == 0, TimeSpan.FromSeconds(30), () => Task.FromResult("the fake metadata server does not answer"));

                fleet.GitHub.QueueJobs("octo/app", s_linux, 1, TimeSpan.FromSeconds(40));
                await FleetUnderTest.WaitUntilAsync(async () => (await fleet.Store.ListActiveRunnersAsync(CancellationToken.None)).Any(r => r.State == RunnerState.Busy),
                    TimeSpan.FromMinutes(1), fleet.DescribeAsync);
                var runner = Assert.Single(await DockerEnvironment.ContainersAsync(fleet.Fleet));

                // From the runner: refused. Private networks are refused by the same chain (not probed: no address of
                // theirs belongs to this test).
                Assert.NotEqual(0, await ExecProbeAsync(runner, "169.254.169.254", 80));
                var rules = (await Iptables("-S", HostFirewall.EgressChainName(fleet.Fleet))).Output;
                Assert.All(HostFirewall.BlockedNetworks, n => Assert.Contains($"-d {n} -j REJECT", rules, StringComparison.Ordinal));

                // A firewall reload drops the rules: the controller puts them back.
                var egress = HostFirewall.EgressChainName(fleet.Fleet);
                await Iptables("-F", egress);
                Assert.Equal(1, await fleet.App.Services.GetRequiredService<HostFirewall>().ReassertAsync(TestContext.Current.CancellationToken));
                Assert.Contains("169.254.0.0/16", (await Iptables("-S", egress)).Output, StringComparison.Ordinal);
                Assert.NotEqual(0, await ExecProbeAsync(runner, "169.254.169.254", 80));
            }
            finally
            {
                var bridge = HostFirewall.BridgeName(network);
                await Iptables("-D", "INPUT", "-i", bridge, "-j", HostFirewall.ChainName(fleet.Fleet));
                await Iptables("-D", "DOCKER-USER", "-i", bridge, "-j", HostFirewall.EgressChainName(fleet.Fleet));
                foreach (var chain in new[] { HostFirewall.ChainName(fleet.Fleet), HostFirewall.EgressChainName(fleet.Fleet) })
                {
                    await Iptables("-F", chain);
                    await Iptables("-X", chain);
                }

                foreach (var id in await DockerEnvironment.ContainersAsync(fleet.Fleet))
                {
                    await DockerEnvironment.DockerAsync("rm", "-f", id);
                }

                await DockerEnvironment.DockerAsync("network", "rm", network);
            }
        }
        finally
        {
            server?.Kill(entireProcessTree: true);
            server?.Dispose();
            await RunAsync("ip", ["netns", "delete", ns]);
            await RunAsync("ip", ["link", "delete", hostSide]);
            Directory.Delete(web, true);
        }
    }

    [Fact]
    public async Task A_pool_that_requires_the_firewall_makes_no_runner_on_a_network_without_one()
    {
        // The test's own network was made by the test, not the fleet: no firewall of ours on it.
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"],
            [new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "1", ["AllowForkPullRequests"] = "true" }]);
        fleet.GitHub.QueueJobs("octo/app", s_linux, 1, TimeSpan.FromSeconds(1));

        await FleetUnderTest.WaitUntilAsync(async () => (await fleet.Store.ListRunnersAsync(10, CancellationToken.None)).Any(r => r.State == RunnerState.Failed),
            TimeSpan.FromMinutes(1), fleet.DescribeAsync);

        var failed = (await fleet.Store.ListRunnersAsync(10, CancellationToken.None)).First(r => r.State == RunnerState.Failed);
        Assert.Contains("not firewalled", failed.FailureReason, StringComparison.Ordinal);
        Assert.Empty(await DockerEnvironment.ContainersAsync(fleet.Fleet));
        Assert.Equal("queued", Assert.Single(fleet.GitHub.AllJobs()).Status);
    }

    /// <summary>
    /// Registration-token mode: the token opens the whole repository to new runners, so no process a job can
    /// read holds it. The old code put it in the container's environment (readable in <c>/proc/1/environ</c>).
    /// </summary>
    [Fact]
    public async Task A_token_mode_runners_job_can_read_the_registration_token_from_no_process()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"],
            [new() { ["Name"] = "tok", ["Labels:0"] = "linux", ["MaxRunners"] = "1", ["Registration"] = "RegistrationToken" }]);
        var job = fleet.GitHub.QueueJobs("octo/app", s_linux, 1, TimeSpan.FromMinutes(5)).Jobs[0];
        await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(fleet.GitHub.AllJobs().Single().Status == "in_progress"), TimeSpan.FromMinutes(2), fleet.DescribeAsync);
        var container = Assert.Single(await DockerEnvironment.ContainersAsync(fleet.Fleet));

        // What the job's user (the container's user) can read: every process's environment and command line.
        var seen = await DockerEnvironment.DockerAsync("exec", container, "/bin/sh", "-c",
            "for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ; tr '\\0' ' ' < $p/cmdline; echo; done 2>/dev/null");
        var inspect = await DockerEnvironment.DockerAsync("inspect", "-f", "{{json .Config.Env}} {{json .Config.Cmd}}", container);

        Assert.Contains("ACTIONS_RUNNER_HOOK_JOB_STARTED", seen.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("ACTIONS_RUNNER_INPUT_TOKEN", seen.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("--token", seen.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("TOKEN", inspect.Output, StringComparison.Ordinal);
        // Registered with exactly the pool's labels: --no-default-labels reached config.sh as an argument.
        var registered = Assert.Single(fleet.GitHub.Registrations);
        Assert.Equal("token", registered.Mode);
        Assert.DoesNotContain(fleet.GitHub.AllRunners().Single().Labels, l => l is "X64" or "x64" or "Linux");
        Assert.Equal(job.Id, fleet.GitHub.AllJobs().Single().Id);
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(start)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, output);
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
