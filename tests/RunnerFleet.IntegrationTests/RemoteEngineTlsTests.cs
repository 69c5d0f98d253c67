using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Microsoft.Extensions.Logging.Abstractions;
using RunnerFleet.Controller.Providers.Docker;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// Remote Docker engines speak mutual TLS: a second <c>dockerd</c> on a loopback TCP port with
/// <c>--tlsverify</c> and certificates this test makes with openssl. The controller reaches it with its
/// client certificate, and refuses (or is refused) when either side's certificate is not the CA's.
/// </summary>
[Trait("Category", "Security")]
[Collection(nameof(DockerCollection))]
public sealed class RemoteEngineTlsTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("runnerfleet-tls-").FullName;
    private readonly int _port = FreePort();
    private readonly System.Text.StringBuilder _log = new();
    private Process? _dockerd;
    private bool _hostBridgeBefore;
    private readonly string _bridge = $"rftls{Guid.NewGuid():N}"[..15];

    private string Good => Path.Combine(_dir, "good");
    private string Rogue => Path.Combine(_dir, "rogue");
    private string WrongCa => Path.Combine(_dir, "wrong-ca");

    public async ValueTask InitializeAsync()
    {
        // A CA, the engine's certificate for 127.0.0.1, a client certificate of that CA; and a rogue CA with a client certificate of its own.
        var script = $$"""
            set -e
            cd {{_dir}}
            mk_ca() { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout $1-key.pem -out $1.pem 2>/dev/null; }
            mk_cert() { # name ca cn ext
              openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout $1-key.pem -out $1.csr 2>/dev/null
              printf '%s\n' "$4" > $1.ext
              openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2-key.pem -CAcreateserial -days 2 -extfile $1.ext -out $1.pem 2>/dev/null
            }
            mk_ca ca; mk_ca rogueca
            mk_cert server ca engine "subjectAltName=IP:127.0.0.1
            extendedKeyUsage=serverAuth"
            mk_cert client ca controller "extendedKeyUsage=clientAuth"
            mk_cert rogueclient rogueca mallory "extendedKeyUsage=clientAuth"
            mkdir good rogue wrong-ca
            cp ca.pem good/ca.pem; cp client.pem good/cert.pem; cp client-key.pem good/key.pem
            cp ca.pem rogue/ca.pem; cp rogueclient.pem rogue/cert.pem; cp rogueclient-key.pem rogue/key.pem
            cp rogueca.pem wrong-ca/ca.pem; cp client.pem wrong-ca/cert.pem; cp client-key.pem wrong-ca/key.pem
            """;
        var made = await RunAsync("/bin/sh", "-c", script);
        Assert.True(made.Code == 0, made.Output);

        // A bridge of its own: with --bridge none, dockerd deletes the host's docker0 at start (moby's
        // removeDefaultBridgeInterface), which broke every later test on the main engine's default network.
        // 198.18.0.0/15 is the benchmarking range (RFC 2544): no host network uses it.
        _hostBridgeBefore = Directory.Exists("/sys/class/net/docker0");
        var bridge = await RunAsync("/bin/sh", "-c", $"ip link add name {_bridge} type bridge && ip addr add 198.18.77.1/24 dev {_bridge} && ip link set {_bridge} up");
        Assert.True(bridge.Code == 0, bridge.Output);

        var start = new ProcessStartInfo("dockerd") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[]
                 {
                     "--tlsverify", "--tlscacert", Path.Combine(_dir, "ca.pem"), "--tlscert", Path.Combine(_dir, "server.pem"), "--tlskey", Path.Combine(_dir, "server-key.pem"),
                     "-H", $"tcp://127.0.0.1:{_port}", "--data-root", Path.Combine(_dir, "data"), "--exec-root", Path.Combine(_dir, "exec"), "--pidfile", Path.Combine(_dir, "dockerd.pid"),
                     "--bridge", _bridge, "--iptables=false", "--ip6tables=false", "--containerd-namespace", "runnerfleet-tls-test", "--containerd-plugins-namespace", "runnerfleet-tls-test-plugins",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        _dockerd = Process.Start(start)!;
        _dockerd.OutputDataReceived += (_, _) => { };
        _dockerd.ErrorDataReceived += (_, e) =>
        {
            lock (_log)
            {
                _log.AppendLine(e.Data);
            }
        };
        _dockerd.BeginOutputReadLine();
        _dockerd.BeginErrorReadLine();

        // Up when it answers our client over TLS (a generous bound: a busy machine starts dockerd slowly). A start
        // that fails stops this dockerd here: a failed InitializeAsync is not followed by DisposeAsync.
        try
        {
            using var client = Connect(Good);
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (true)
            {
                try
                {
                    Assert.False(_dockerd.HasExited, $"dockerd exited: {_log}");
                    await client.System.PingAsync(cts.Token);
                    return;
                }
                catch (Exception) when (!cts.IsCancellationRequested && !_dockerd.HasExited)
                {
                    await Task.Delay(200, CancellationToken.None);
                }
            }
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_dockerd is { HasExited: false })
        {
            _dockerd.Kill(entireProcessTree: true);
            await _dockerd.WaitForExitAsync();
        }

        _dockerd?.Dispose();
        await RunAsync("/bin/sh", "-c", $"umount -R {_dir}/exec {_dir}/data 2>/dev/null; rm -rf {_dir}; ip link delete {_bridge} 2>/dev/null; true");
    }

    [Fact]
    public void The_second_engine_leaves_the_host_engines_default_bridge_alone()
    {
        Assert.True(_hostBridgeBefore, "the host engine's docker0 was missing before this test's engine started");
        Assert.True(Directory.Exists("/sys/class/net/docker0"), "starting a second dockerd deleted the host's docker0");
    }

    [Fact]
    public async Task The_controller_reaches_a_tls_engine_with_its_client_certificate()
    {
        using var client = Connect(Good);

        await client.System.PingAsync(TestContext.Current.CancellationToken);
        var containers = await client.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters { All = true }, TestContext.Current.CancellationToken);
        Assert.Empty(containers);
    }

    [Fact]
    public async Task A_client_certificate_of_another_ca_is_refused_by_the_engine()
    {
        using var client = Connect(Rogue);

        await Assert.ThrowsAnyAsync<Exception>(() => client.System.PingAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task An_engine_whose_certificate_is_not_the_configured_cas_is_refused_by_the_controller()
    {
        using var client = Connect(WrongCa);

        var e = await Assert.ThrowsAnyAsync<Exception>(() => client.System.PingAsync(TestContext.Current.CancellationToken));
        var text = e.ToString();
        Assert.True(text.Contains("SSL", StringComparison.OrdinalIgnoreCase) || text.Contains("certificate", StringComparison.OrdinalIgnoreCase) || text.Contains("authentication", StringComparison.OrdinalIgnoreCase), text);
    }

    [Fact]
    public async Task Plain_tcp_is_refused_by_configuration_and_by_a_tls_engine()
    {
        var plain = new DockerEndpointOptions { Name = "remote", Uri = new Uri($"tcp://127.0.0.1:{_port}") };
        var refused = new DockerOptionsValidator().Validate(null, new DockerOptions { Endpoints = [plain] });
        Assert.True(refused.Failed);
        Assert.Contains("Docker:Endpoints:0:CertPath", refused.FailureMessage, StringComparison.Ordinal);

        plain.AllowPlainTcp = true;
        Assert.True(new DockerOptionsValidator().Validate(null, new DockerOptions { Endpoints = [plain] }).Succeeded);
        using var client = DockerProvider.Connect(plain, "1.41", NullLogger.Instance);
        await Assert.ThrowsAnyAsync<Exception>(() => client.System.PingAsync(TestContext.Current.CancellationToken));

        var missing = new DockerEndpointOptions { Name = "remote", Uri = plain.Uri, CertPath = Path.Combine(_dir, "nowhere") };
        Assert.Contains("Docker:Endpoints:0:CertPath has no ca.pem", new DockerOptionsValidator().Validate(null, new DockerOptions { Endpoints = [missing] }).FailureMessage, StringComparison.Ordinal);
    }

    private DockerClient Connect(string certs) =>
        DockerProvider.Connect(new DockerEndpointOptions { Name = "remote", Uri = new Uri($"tcp://127.0.0.1:{_port}"), CertPath = certs }, "1.41", NullLogger.Instance);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var p = Process.Start(start)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        var error = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, output + error);
    }
}
