using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Docker;

/// <summary>
/// One container per runner, on one of several engines, each with a capacity. Containers are hardened
/// by default (not privileged, no-new-privileges, all capabilities dropped but those the runner needs,
/// CPU/memory/pids limits, a bridge network of the fleet's own) and labelled with fleet, pool and
/// runner name. Container exit is the teardown signal: each started container is watched.
/// </summary>
internal sealed partial class DockerProvider : IRunnerProvider, IDisposable
{
    // What the runner image needs to start as its own user; everything else is dropped.
    private static readonly string[] s_capabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "KILL"];

    private readonly DockerOptions _options;
    private readonly string _fleet;
    private readonly IFleetSignals _signals;
    private readonly ILogger<DockerProvider> _logger;
    private readonly ConcurrentDictionary<string, DockerClient> _clients = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, string?> _networks = new(StringComparer.OrdinalIgnoreCase);
    private readonly SemaphoreSlim _networkGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;

    private readonly HostFirewall _firewall;

    public DockerProvider(IOptions<DockerOptions> options, PoolCatalog pools, IFleetSignals signals, HostFirewall firewall, ILogger<DockerProvider> logger)
    {
        _firewall = firewall;
        _options = options.Value;
        _fleet = pools.FleetName;
        _signals = signals;
        _logger = logger;
    }

    /// <summary>The provider's name, as pools name it (<c>Provider: docker</c>).</summary>
    public const string KindName = "docker";

    public string Kind => KindName;

    public async Task<ProvisionedRunner> CreateAsync(RunnerLaunch launch, CancellationToken ct)
    {
        // Idempotent: a container with this runner's label already exists when a create is retried.
        await foreach (var existing in ListAsync(ct).ConfigureAwait(false))
        {
            if (existing.RunnerName == launch.Name)
            {
                if (existing.Status == ProvisionedStatus.Created)
                {
                    await Client(existing.Endpoint!).Containers.StartContainerAsync(existing.ResourceId, new ContainerStartParameters(), ct).ConfigureAwait(false);
                    Watch(existing.Endpoint!, existing.ResourceId, launch.Name);
                }

                return existing;
            }
        }

        var endpoint = await PickEndpointAsync(launch.Pool, ct).ConfigureAwait(false);
        if (launch.Caches.Count > 0 && endpoint.IsTcp)
        {
            // The cache's folders are on this host; a remote engine would mount folders of its own host by those names.
            throw new ProviderException("cache_remote_engine", $"pool {launch.Pool.Name} has a warm cache, which only an engine on the controller's host can mount; engine {endpoint.Name} is at {endpoint.Uri} (Fleet:Pools:N:Docker:Endpoints)");
        }

        var client = Client(endpoint.Name!);
        var settings = launch.Pool.ProviderSettingsAs<DockerPoolSettings>();
        var network = settings.Network ?? $"runnerfleet-{_fleet}";
        var firewalled = await EnsureNetworkAsync(endpoint.Name!, client, network, ct).ConfigureAwait(false);
        if (!firewalled && (settings.RequireFirewall ?? launch.Pool.AllowForkPullRequests))
        {
            // Fail closed: a pool that asked for the firewall (or runs fork code) gets no runner without it.
            throw new ProviderException("firewall_missing", $"network {network} on engine {endpoint.Name} is not firewalled (see the log for why) and pool {launch.Pool.Name} requires it (Docker:RequireFirewall, on by default with AllowForkPullRequests)");
        }
        await EnsureImageAsync(client, settings, ct).ConfigureAwait(false);

        var create = new CreateContainerParameters
        {
            Name = launch.Name,
            Image = settings.Image,
            Hostname = launch.Name,
            Env = Environment(launch),
            Cmd = [.. Command(launch)],
            Labels = new Dictionary<string, string>
            {
                [Providers.RunnerLabels.Fleet] = _fleet,
                [Providers.RunnerLabels.Pool] = launch.Pool.Name,
                [Providers.RunnerLabels.Runner] = launch.Name,
            },
            HostConfig = new HostConfig
            {
                Privileged = false,
                SecurityOpt = ["no-new-privileges:true"],
                CapDrop = ["ALL"],
                CapAdd = [.. s_capabilities],
                NanoCPUs = (long)(settings.Cpus * 1_000_000_000),
                Memory = settings.MemoryMb * 1024 * 1024,
                MemorySwap = settings.MemoryMb * 1024 * 1024,
                PidsLimit = settings.PidsLimit,
                NetworkMode = network,
                Init = true,
                LogConfig = new LogConfig { Type = "json-file", Config = new Dictionary<string, string> { ["max-size"] = "10m", ["max-file"] = "2" } },
                Mounts = [.. launch.Caches.Select(c => CacheVolume(c, launch.Name))],
            },
            Platform = settings.Platform,
        };

        CreateContainerResponse created;
        try
        {
            created = await client.Containers.CreateContainerAsync(create, ct).ConfigureAwait(false);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            // Another attempt created it between our list and create: adopt it.
            var found = await FindAsync(launch.Name, ct).ConfigureAwait(false)
                ?? throw new ProviderException("create_failed", $"container name {launch.Name} is taken but no container carries its label");
            return found;
        }
        catch (DockerApiException e)
        {
            throw new ProviderException("create_failed", $"docker create on {endpoint.Name} failed: {(int)e.StatusCode} {Message(e)}", e);
        }

        try
        {
            // The pre-job hook and the pool's settings for it, root-owned, before the runner starts.
            await InstallHookAsync(client, created.ID, launch.Pool, ct).ConfigureAwait(false);
            await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
        }
        catch (DockerApiException e)
        {
            await RemoveAsync(client, created.ID, CancellationToken.None).ConfigureAwait(false);
            throw new ProviderException("start_failed", $"docker start on {endpoint.Name} failed: {(int)e.StatusCode} {Message(e)}", e);
        }

        if (launch.JitConfig is null && settings.Command.Count == 0)
        {
            // Registration-token mode, out of band: config.sh runs as its own process with the token in its
            // environment only, and exits; run.sh (waiting for the settings config.sh writes) never sees it.
            await ConfigureOutOfBandAsync(client, endpoint.Name!, created.ID, launch, ct).ConfigureAwait(false);
        }

        Watch(endpoint.Name!, created.ID, launch.Name);
        LogStarted(_logger, launch.Name, endpoint.Name!, settings.Image, settings.Platform ?? "native");
        return new ProvisionedRunner { ResourceId = created.ID, RunnerName = launch.Name, Pool = launch.Pool.Name, Endpoint = endpoint.Name, Status = ProvisionedStatus.Running };
    }

    public async Task DestroyAsync(ProvisionedRunner runner, CancellationToken ct)
    {
        if (runner.Endpoint is { } endpoint && _options.EffectiveEndpoints.Any(e => e.Name == endpoint))
        {
            await RemoveAsync(Client(endpoint), runner.ResourceId, ct).ConfigureAwait(false);
            return;
        }

        // Unknown engine on the record: find the container by its label.
        if (await FindAsync(runner.RunnerName, ct).ConfigureAwait(false) is { Endpoint: { } found } container)
        {
            await RemoveAsync(Client(found), container.ResourceId, ct).ConfigureAwait(false);
        }
    }

    public async IAsyncEnumerable<ProvisionedRunner> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var endpoint in _options.EffectiveEndpoints)
        {
            IList<ContainerListResponse> containers;
            try
            {
                containers = await Client(endpoint.Name!).Containers.ListContainersAsync(new ContainersListParameters
                {
                    All = true,
                    Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Providers.RunnerLabels.Fleet}={_fleet}"] = true } },
                }, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or DockerApiException or IOException or TimeoutException)
            {
                throw new ProviderException("engine_unreachable", $"Docker engine {endpoint.Name} ({endpoint.Uri}) did not answer: {e.Message}", e);
            }

            foreach (var c in containers)
            {
                yield return ToProvisioned(endpoint.Name!, c);
            }
        }
    }

    /// <summary>Whether any engine answers; used to choose the sandbox's provider.</summary>
    public async Task<bool> PingAsync(CancellationToken ct)
    {
        try
        {
            await Client(_options.EffectiveEndpoints[0].Name!).System.PingAsync(ct).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is HttpRequestException or DockerApiException or IOException or TimeoutException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether the pool's engines can run its platform: starts the pool's image for that platform with
    /// <c>uname -m</c> compared to the expected machine. Null when they can; else what is wrong.
    /// </summary>
    public async Task<string?> ProbePlatformAsync(PoolDefinition pool, CancellationToken ct)
    {
        var settings = pool.ProviderSettingsAs<DockerPoolSettings>();
        var expected = settings.Platform switch
        {
            "linux/arm64" or "linux/arm64/v8" => "aarch64",
            "linux/amd64" => "x86_64",
            "linux/arm/v7" => "armv7l",
            "linux/s390x" => "s390x",
            "linux/ppc64le" => "ppc64le",
            "linux/riscv64" => "riscv64",
            _ => null,
        };
        if (settings.Platform is null || expected is null)
        {
            return settings.Platform is null ? null : $"platform {settings.Platform} is not one RunnerFleet knows how to check";
        }

        var endpoint = _options.EffectiveEndpoints.FirstOrDefault(e => settings.Endpoints.Count == 0 || settings.Endpoints.Contains(e.Name!, StringComparer.OrdinalIgnoreCase));
        if (endpoint is null)
        {
            return "no Docker engine is configured for the pool";
        }

        var client = Client(endpoint.Name!);
        string? id = null;
        try
        {
            await EnsureImageAsync(client, settings, ct).ConfigureAwait(false);
            var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = settings.Image,
                Entrypoint = ["/bin/sh", "-c"],
                Cmd = [$"test \"$(uname -m)\" = {expected}"],
                User = "0",
                Labels = new Dictionary<string, string> { ["runnerfleet.probe"] = _fleet },
                HostConfig = new HostConfig { NetworkMode = "none", SecurityOpt = ["no-new-privileges:true"], CapDrop = ["ALL"] },
                Platform = settings.Platform,
            }, ct).ConfigureAwait(false);
            id = created.ID;
            await client.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct).ConfigureAwait(false);
            var exit = await client.Containers.WaitContainerAsync(id, ct).ConfigureAwait(false);
            return exit.StatusCode == 0 ? null : $"a {settings.Platform} container of {settings.Image} on engine {endpoint.Name} did not report {expected} (exit {exit.StatusCode})";
        }
        catch (Exception e) when (e is DockerApiException or ProviderException or HttpRequestException or IOException)
        {
            return $"engine {endpoint.Name} cannot run {settings.Image} as {settings.Platform}: {(e is DockerApiException d ? Message(d) : e.Message)}";
        }
        finally
        {
            if (id is not null)
            {
                await RemoveAsync(client, id, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    public async Task<bool> ImageExistsAsync(string image, CancellationToken ct)
    {
        try
        {
            await Client(_options.EffectiveEndpoints[0].Name!).Images.InspectImageAsync(image, ct).ConfigureAwait(false);
            return true;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public void Dispose()
    {
        // Registered both as itself and as IRunnerProvider, so the container may dispose it twice.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _stopping.Cancel();
        foreach (var c in _clients.Values)
        {
            c.Dispose();
        }

        _stopping.Dispose();
        _networkGate.Dispose();
    }

    // ---------------------------------------------------------------- helpers

    private DockerClient Client(string endpointName) => _clients.GetOrAdd(endpointName, name =>
        Connect(_options.EffectiveEndpoints.First(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)), _options.ApiVersion, _logger));

    /// <summary>
    /// A client for one engine. A TCP engine speaks mutual TLS: this controller's certificate (<c>cert.pem</c>,
    /// <c>key.pem</c>) and the engine's checked against <c>ca.pem</c> only (not the machine's trust store), as
    /// <c>docker --tlsverify</c> does; plain TCP only when the endpoint allows it, with a warning.
    /// </summary>
    internal static DockerClient Connect(DockerEndpointOptions endpoint, string apiVersion, ILogger logger)
    {
        var builder = new DockerClientBuilder().WithEndpoint(endpoint.Uri!).WithApiVersion(System.Version.Parse(apiVersion));
        if (endpoint.CertPath is { } certs)
        {
            var ca = global::Docker.DotNet.X509.DockerTlsCertificates.LoadCertificateAuthorityFromPemFile(Path.Combine(certs, "ca.pem"));
            var cert = global::Docker.DotNet.X509.DockerTlsCertificates.LoadCertificateFromPemFiles(Path.Combine(certs, "cert.pem"), Path.Combine(certs, "key.pem"));
            builder = builder.WithAuthProvider(new global::Docker.DotNet.X509.CertificateCredentials(cert)
            {
                ServerCertificateValidationCallback = global::Docker.DotNet.X509.DockerTlsCertificates.CreateCertificateAuthorityValidationCallback(ca),
            });
        }
        else if (endpoint.IsTcp)
        {
            LogPlainTcp(logger, endpoint.Name!, endpoint.Uri!);
        }

        return builder.Build();
    }

    private static List<string> Environment(RunnerLaunch launch)
    {
        var hook = $"{RunnerHook.EnvironmentVariable}={RunnerHook.ScriptPath}";
        // The JIT config is the runner's own one-runner credential; in token mode nothing secret is here.
        return launch.JitConfig is { } jit ? [$"ACTIONS_RUNNER_INPUT_JITCONFIG={jit}", hook] : [hook];
    }

    /// <summary>
    /// Token mode: the container waits for the runner's settings (<c>.runner</c>), written by
    /// <see cref="ConfigureOutOfBandAsync"/>; then it runs <c>run.sh</c>, whose environment never held the token.
    /// </summary>
    private static IReadOnlyList<string> Command(RunnerLaunch launch) =>
        launch.Pool.ProviderSettingsAs<DockerPoolSettings>().Command is { Count: > 0 } command
        ? command
        : (launch.JitConfig is not null
            ? ["/home/runner/run.sh"]
            : ["/bin/sh", "-c", "until [ -f /home/runner/.runner ]; do sleep 1; done; exec /home/runner/run.sh"]);

    /// <summary>Copies the hook and its settings into the container (a tar extracted at /, as <c>docker cp</c> does).</summary>
    private static async Task InstallHookAsync(DockerClient client, string containerId, PoolDefinition pool, CancellationToken ct)
    {
        using var tar = new MemoryStream();
        using (var writer = new System.Formats.Tar.TarWriter(tar, System.Formats.Tar.TarEntryFormat.Pax, leaveOpen: true))
        {
            const System.IO.UnixFileMode dir = (System.IO.UnixFileMode)0b111_101_101;
            writer.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.Directory, "etc/runnerfleet/") { Mode = dir });
            foreach (var (path, text, mode) in new[] { (RunnerHook.ScriptPath, RunnerHook.Script, dir), (RunnerHook.SettingsPath, RunnerHook.Settings(pool), (System.IO.UnixFileMode)0b110_100_100) })
            {
                var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, path.TrimStart('/'))
                {
                    Mode = mode,
                    DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)),
                };
                writer.WriteEntry(entry);
            }
        }

        tar.Position = 0;
        await client.Containers.ExtractArchiveToContainerAsync(containerId, new CopyToContainerParameters { Path = "/" }, tar, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Registers a token-mode runner: <c>config.sh</c> as its own exec process, the token in that process's
    /// environment only (never in argv, never in the container's environment, so no job reads it from
    /// <c>/proc/1/environ</c>). Labels and <c>--no-default-labels</c> are arguments: actions/runner reads
    /// that flag from the command line (its environment form would be <c>ACTIONS_RUNNER_INPUT_NO-DEFAULT-LABELS</c>).
    /// </summary>
    private async Task ConfigureOutOfBandAsync(DockerClient client, string endpoint, string containerId, RunnerLaunch launch, CancellationToken ct)
    {
        try
        {
            var exec = await client.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
            {
                Cmd = ["/home/runner/config.sh", "--unattended", "--url", launch.RegistrationUrl!.ToString(), "--name", launch.Name,
                       "--labels", string.Join(',', launch.Pool.Labels), "--ephemeral", "--no-default-labels"],
                Env = [$"ACTIONS_RUNNER_INPUT_TOKEN={launch.RegistrationToken}"],
                WorkingDir = "/home/runner",
                AttachStdout = true,
                AttachStderr = true,
            }, ct).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(5));
            // The engine's exec API streams the process's output until it exits (config.sh prints no secret).
            string output;
            using (var stream = await client.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters(), timeout.Token).ConfigureAwait(false))
            {
                var (stdout, stderr) = await stream.ReadOutputToEndAsync(timeout.Token).ConfigureAwait(false);
                output = (stdout + stderr).Trim();
            }

            var state = await client.Exec.InspectContainerExecAsync(exec.ID, timeout.Token).ConfigureAwait(false);
            if (state.Running || state.ExitCode != 0)
            {
                throw new ProviderException("register_failed", $"config.sh in {launch.Name} on {endpoint} exited with {state.ExitCode}: {(output.Length > 300 ? output[^300..] : output)}");
            }
        }
        catch (Exception e) when (e is DockerApiException or ProviderException or OperationCanceledException)
        {
            await RemoveAsync(client, containerId, CancellationToken.None).ConfigureAwait(false);
            if (e is OperationCanceledException && ct.IsCancellationRequested)
            {
                throw;
            }

            throw e as ProviderException ?? new ProviderException("register_failed", $"registering {launch.Name} on {endpoint} failed: {(e is DockerApiException d ? Message(d) : "config.sh took over 5 minutes")}", e);
        }
    }

    private async Task<DockerEndpointOptions> PickEndpointAsync(PoolDefinition pool, CancellationToken ct)
    {
        var counts = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        await foreach (var c in ListAsync(ct).ConfigureAwait(false))
        {
            if (c.Status != ProvisionedStatus.Exited)
            {
                counts[c.Endpoint!] = counts.GetValueOrDefault(c.Endpoint!) + 1;
            }
        }

        var candidates = _options.EffectiveEndpoints
            .Where(e => pool.ProviderSettingsAs<DockerPoolSettings>().Endpoints.Count == 0 || pool.ProviderSettingsAs<DockerPoolSettings>().Endpoints.Contains(e.Name!, StringComparer.OrdinalIgnoreCase))
            .Select(e => (Endpoint: e, Free: e.MaxRunners - counts.GetValueOrDefault(e.Name!)))
            .Where(x => x.Free > 0)
            .OrderByDescending(x => x.Free)
            .ToList();
        return candidates.Count > 0
            ? candidates[0].Endpoint
            : throw new ProviderException("no_capacity", $"every Docker engine for pool {pool.Name} is at its MaxRunners");
    }

    /// <summary>How a runner network is created: a bridge with inter-container traffic off, under a known bridge name, labelled as the fleet's.</summary>
    public static NetworksCreateParameters NetworkParameters(string network, string fleet, bool isolate) => new()
    {
        Name = network,
        Driver = "bridge",
        Labels = new Dictionary<string, string> { [Providers.RunnerLabels.Fleet] = fleet },
        // No IPv6 on runner networks: the firewall's rules are IPv4 (iptables), so IPv6 would go around them.
        EnableIPv6 = false,
        Options = isolate
            ? new Dictionary<string, string>
            {
                // Runners on one network cannot reach each other; each still reaches the internet.
                ["com.docker.network.bridge.enable_icc"] = "false",
                ["com.docker.network.bridge.name"] = HostFirewall.BridgeName(network),
            }
            : new Dictionary<string, string>(),
    };

    private static string? NetworkOption(NetworkResponse network, string key) =>
        network.Options is { } options && options.TryGetValue(key, out var value) ? value : null;

    /// <summary>Makes the network when missing; true when its firewall is in force (now, not only once).</summary>
    private async Task<bool> EnsureNetworkAsync(string endpoint, DockerClient client, string network, CancellationToken ct)
    {
        if (_networks.TryGetValue($"{endpoint}/{network}", out var bridge))
        {
            return bridge is not null && _firewall.IsProtected(bridge);
        }

        // Provisions run in parallel: one of them makes the network, the others wait for it.
        await _networkGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            bridge = await EnsureNetworkOnceAsync(endpoint, client, network, ct).ConfigureAwait(false);
            return bridge is not null && _firewall.IsProtected(bridge);
        }
        finally
        {
            _networkGate.Release();
        }
    }

    /// <summary>The network's bridge when this controller firewalls it, else null.</summary>
    private async Task<string?> EnsureNetworkOnceAsync(string endpoint, DockerClient client, string network, CancellationToken ct)
    {
        if (_networks.TryGetValue($"{endpoint}/{network}", out var known))
        {
            return known;
        }

        string? firewalled = null;

        var existing = (await client.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [network] = true } },
        }, ct).ConfigureAwait(false)).FirstOrDefault(n => n.Name == network);
        if (existing is null)
        {
            try
            {
                await client.Networks.CreateNetworkAsync(NetworkParameters(network, _fleet, _options.IsolateFromHost), ct).ConfigureAwait(false);
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict || (e.StatusCode == HttpStatusCode.Forbidden && e.ResponseBody?.Contains("same bridge name", StringComparison.Ordinal) == true))
            {
                // Another controller made it first.
            }

            existing = (await client.Networks.ListNetworksAsync(new NetworksListParameters(), ct).ConfigureAwait(false)).FirstOrDefault(n => n.Name == network);
        }

        // Only networks this fleet made are firewalled: one the operator names and made is theirs to isolate.
        if (_options.IsolateFromHost && existing is not null && existing.Labels?.ContainsKey(Providers.RunnerLabels.Fleet) == true)
        {
            if (NetworkOption(existing, "com.docker.network.bridge.enable_icc") != "false")
            {
                LogIccOn(_logger, network);
            }

            var local = _options.EffectiveEndpoints.First(e => string.Equals(e.Name, endpoint, StringComparison.OrdinalIgnoreCase)).Uri!.Scheme == "unix";
            var bridge = NetworkOption(existing, "com.docker.network.bridge.name") ?? $"br-{existing.ID[..12]}";
            if (local)
            {
                await _firewall.ProtectAsync(_fleet, bridge, _options.AllowedHostPorts, _options.AllowedNetworks, ct).ConfigureAwait(false);
                firewalled = bridge;
            }
            else
            {
                LogRemoteEngine(_logger, endpoint, network);
            }
        }

        _networks[$"{endpoint}/{network}"] = firewalled;
        return firewalled;
    }

    private async Task EnsureImageAsync(DockerClient client, DockerPoolSettings settings, CancellationToken ct)
    {
        try
        {
            await client.Images.InspectImageAsync(settings.Image, ct).ConfigureAwait(false);
            return;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }

        LogPulling(_logger, settings.Image, settings.Platform ?? "native");
        var (name, tag) = SplitImage(settings.Image);
        try
        {
            await client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = name, Tag = tag, Platform = settings.Platform }, null, new Progress<JSONMessage>(), ct).ConfigureAwait(false);
        }
        catch (DockerApiException e)
        {
            throw new ProviderException("image_missing", $"image {settings.Image} is not on the engine and could not be pulled: {Message(e)}", e);
        }
    }

    private void Watch(string endpoint, string containerId, string runnerName)
    {
        // Container exit is the teardown signal; polling in ReapJob covers a missed wait (e.g. after restart).
        _ = Task.Run(async () =>
        {
            try
            {
                await Client(endpoint).Containers.WaitContainerAsync(containerId, _stopping.Token).ConfigureAwait(false);
                _signals.RunnerExited(runnerName);
            }
            catch (Exception e) when (e is OperationCanceledException or DockerApiException or HttpRequestException or IOException or ObjectDisposedException)
            {
            }
        });
    }

    private async Task<ProvisionedRunner?> FindAsync(string runnerName, CancellationToken ct)
    {
        await foreach (var c in ListAsync(ct).ConfigureAwait(false))
        {
            if (c.RunnerName == runnerName)
            {
                return c;
            }
        }

        return null;
    }

    /// <summary>
    /// A warm cache as an anonymous volume of the engine's <c>local</c> driver mounting overlayfs (moby's
    /// volume/local: <c>type</c>, <c>device</c> and <c>o</c> go to mount(2)): the scope's generation read-only below,
    /// the runner's own layer above. Anonymous, so removing the container (RemoveVolumes) unmounts and removes it.
    /// redirect_dir, index and metacopy off: the upper layer then holds plain files, whiteouts and opaque folders
    /// only, which is what the controller's merge reads (a renamed folder is copied up whole). nosuid and nodev (mount
    /// flags moby's mount package takes from <c>o</c>): nothing in a cache runs with another user's rights or opens a device.
    /// </summary>
    private static Mount CacheVolume(CacheMount cache, string runner) => new()
    {
        Type = "volume",
        Target = cache.GuestPath,
        VolumeOptions = new VolumeOptions
        {
            // Never copy the image's files at that path into the volume: they would land in the layer and be written back.
            NoCopy = true,
            Labels = new Dictionary<string, string> { [Providers.RunnerLabels.Runner] = runner },
            DriverConfig = new Driver
            {
                Name = "local",
                Options = new Dictionary<string, string>
                {
                    ["type"] = "overlay",
                    ["device"] = "overlay",
                    ["o"] = $"lowerdir={cache.LowerDir},upperdir={cache.UpperDir},workdir={cache.WorkDir},redirect_dir=off,index=off,metacopy=off,nosuid,nodev",
                },
            },
        },
    };

    private static async Task RemoveAsync(DockerClient client, string id, CancellationToken ct)
    {
        try
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, ct).ConfigureAwait(false);
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // Gone already, or removal already in progress: both are success for an idempotent destroy.
        }
    }

    private ProvisionedRunner ToProvisioned(string endpoint, ContainerListResponse c)
    {
        c.Labels.TryGetValue(Providers.RunnerLabels.Runner, out var name);
        c.Labels.TryGetValue(Providers.RunnerLabels.Pool, out var pool);
        var status = c.State switch
        {
            "running" or "restarting" or "paused" => ProvisionedStatus.Running,
            "created" => ProvisionedStatus.Created,
            _ => ProvisionedStatus.Exited,
        };
        return new ProvisionedRunner { ResourceId = c.ID, RunnerName = name ?? c.Names.FirstOrDefault()?.TrimStart('/') ?? c.ID, Pool = pool, Endpoint = endpoint, Status = status };
    }

    private static (string Name, string Tag) SplitImage(string image)
    {
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    private static string Message(DockerApiException e) => e.ResponseBody?.Trim() is { Length: > 0 } body ? body : e.Message;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Docker engine {Endpoint} at {Uri} is reached over plain TCP without TLS (AllowPlainTcp): anyone who can reach that port can run containers as root there")]
    private static partial void LogPlainTcp(ILogger logger, string endpoint, Uri uri);

    [LoggerMessage(Level = LogLevel.Information, Message = "Started container for {RunnerName} on {Endpoint} from {Image} ({Platform})")]
    private static partial void LogStarted(ILogger logger, string runnerName, string endpoint, string image, string platform);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Network {Network} was created without inter-container isolation (enable_icc); runners on it can reach each other. Remove it to have it re-created isolated")]
    private static partial void LogIccOn(ILogger logger, string network);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Engine {Endpoint} is remote: runners on {Network} are not firewalled from that host by this controller; add the rules from README, Security, there")]
    private static partial void LogRemoteEngine(ILogger logger, string endpoint, string network);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pulling image {Image} ({Platform}); the first runner waits for it")]
    private static partial void LogPulling(ILogger logger, string image, string platform);
}
