using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>
/// One Hetzner Cloud server per runner, labelled with fleet, pool and runner name, started by cloud-init
/// (<see cref="CloudInit"/>). Server types and locations are ordered fallback lists: availability is read
/// from <c>GET /server_types</c> first, and a <c>resource_unavailable</c> moves on to the next pair; when
/// none is left the pool reports no capacity and its demand goes to its overflow pool. A create whose
/// action ends in error is deleted. Servers get a firewall with no inbound rules.
/// </summary>
internal sealed partial class HetznerProvider(HetznerClient client, PoolCatalog pools, Microsoft.Extensions.Options.IOptions<HetznerOptions> options, TimeProvider time, ILogger<HetznerProvider> logger) : IRunnerProvider, IRebuildingProvider
{
    // Availability changes over minutes; a create refused for capacity reads it again at once (see TypesRefused).
    private static readonly TimeSpan s_typesFor = TimeSpan.FromMinutes(5);
    private readonly CreateDurations _createTimes = new();
    private readonly SemaphoreSlim _typesGate = new(1, 1);
    private readonly SemaphoreSlim _serversGate = new(1, 1);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, (HServer Server, DateTimeOffset At)> _made = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, DateTimeOffset> _deleted = new();
    private (DateTimeOffset At, IReadOnlyList<HServer> Servers)? _servers;
    private readonly Dictionary<string, long> _firewalls = new(StringComparer.Ordinal);
    private (DateTimeOffset At, IReadOnlyList<HServerType> Types)? _types;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Name, string Architecture), string> _images = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(long Image, string Version), bool> _snapshotsChecked = new();

    /// <summary>The provider's name, as pools name it (<c>Provider: hetzner</c>).</summary>
    public const string KindName = "hetzner";

    public string Kind => KindName;

    public async Task<ProvisionedRunner> CreateAsync(RunnerLaunch launch, CancellationToken ct)
    {
        // Idempotent: a retried create finds the server in the fleet's (shared) server list; one made by an attempt
        // whose answer was lost and not yet listed meets uniqueness_error below and is adopted.
        if ((await ServersAsync(ct).ConfigureAwait(false)).FirstOrDefault(s => s.Labels?.GetValueOrDefault(RunnerLabels.Runner) == launch.Name) is { } found)
        {
            return ToProvisioned(found);
        }

        var settings = launch.Pool.ProviderSettingsAs<HetznerPoolSettings>();
        var types = await ServerTypesAsync(ct).ConfigureAwait(false);
        var candidates = (from typeName in settings.ServerTypes
                          let type = types.FirstOrDefault(t => t.Name == typeName)
                          where type is not null
                          from location in settings.Locations
                          where type.IsAvailableIn(location)
                          select (Type: type, Location: location)).ToList();
        if (candidates.Count == 0)
        {
            throw new ProviderException("no_capacity", $"no server type of [{string.Join(", ", settings.ServerTypes)}] is available in [{string.Join(", ", settings.Locations)}]");
        }

        var firewall = await FirewallAsync(settings, ct).ConfigureAwait(false);
        var userData = CloudInit.Render(launch);
        await WarnIfSnapshotIsBehindAsync(settings, launch.Packages, ct).ConfigureAwait(false);
        var labels = new Dictionary<string, string>
        {
            [RunnerLabels.Fleet] = launch.Fleet,
            [RunnerLabels.Pool] = launch.Pool.Name,
            [RunnerLabels.Runner] = launch.Name,
        };

        string? lastRefusal = null;
        foreach (var (type, location) in candidates)
        {
            HCreateServerResponse created;
            try
            {
                // The image by id for the type's architecture: a name alone means its x86 image to the API.
                var image = await ImageIdAsync(settings.Image, type.Architecture, ct).ConfigureAwait(false);
                created = await client.CreateServerAsync(new HCreateServerRequest(
                    launch.Name, type.Name, image, location, true, settings.SshKeys.Count > 0 ? settings.SshKeys : null,
                    [new HFirewallRef(firewall)], userData, labels, new HPublicNetRequest(settings.EnableIpv4, true), settings.PlacementGroup), ct).ConfigureAwait(false);
            }
            catch (HetznerApiException e) when (IsCapacityRefusal(e))
            {
                // No room for this pair right now, whatever the type list said: the next pair, then overflow.
                lastRefusal = $"{type.Name}@{location}: {e.Code} {e.Message}";
                LogUnavailable(logger, type.Name, location, launch.Name, e.Code);
                TypesRefused();
                continue;
            }
            catch (HetznerApiException e) when (e.Code == "uniqueness_error")
            {
                // A first attempt that timed out on our side made the server after all: adopt it, never make a second.
                if ((await client.ListServersAsync($"{RunnerLabels.Runner}={launch.Name}", ct).ConfigureAwait(false)).FirstOrDefault() is { } made)
                {
                    LogAdopted(logger, launch.Name, made.Id);
                    return ToProvisioned(made) with { HourlyPrice = type.HourlyGross(location) };
                }

                throw new ProviderException("create_failed", $"Hetzner create {type.Name}@{location}: the name {launch.Name} is taken by a server without this fleet's labels", e);
            }
            catch (HetznerApiException e) when (e.Code == "resource_limit_exceeded")
            {
                throw new ProviderException("quota", $"Hetzner project quota reached: {e.Message}", e);
            }
            catch (HetznerApiException e)
            {
                throw new ProviderException(e.Code, $"Hetzner create {type.Name}@{location} failed: {e.Message}", e);
            }

            // The first poll when creates have lately been done: the runner boots and registers without us, so polling
            // earlier would only spend requests (a create that failed is seen a few seconds later, that is all).
            var actions = await client.WaitForActionsAsync([created.Action.Id, .. (created.NextActions ?? []).Select(a => a.Id)], ct,
                _createTimes.Typical(options.Value.ActionPollInterval)).ConfigureAwait(false);
            if (actions.FirstOrDefault(a => a.Command == "create_server" && a.Status == "success") is { Finished: { } finished } done)
            {
                _createTimes.Add(finished - done.Started);
            }

            if (actions.FirstOrDefault(a => a.Status == "error") is { } failed)
            {
                // Never leave a half-made server behind; a create that ends in error is a capacity refusal
                // (the host it was placed on could not take it): the next pair, then overflow.
                await DeleteWithRetryAsync(created.Server.Id, ct).ConfigureAwait(false);
                lastRefusal = $"{type.Name}@{location}: {failed.Command} ended in error ({failed.Error?.Code} {failed.Error?.Message})";
                LogUnavailable(logger, type.Name, location, launch.Name, failed.Error?.Code ?? "action_error");
                TypesRefused();
                continue;
            }

            LogCreated(logger, launch.Name, type.Name, location, type.HourlyGross(location) ?? 0);
            Remember(created.Server);
            return ToProvisioned(created.Server) with { HourlyPrice = type.HourlyGross(location) };
        }

        throw new ProviderException("no_capacity", $"every server type/location of pool {launch.Pool.Name} was refused (last: {lastRefusal})");
    }

    public async Task DestroyAsync(ProvisionedRunner runner, CancellationToken ct)
    {
        if (long.TryParse(runner.ResourceId, CultureInfo.InvariantCulture, out var id))
        {
            await DeleteWithRetryAsync(id, ct).ConfigureAwait(false);
            return;
        }

        // No server id on the record (crash before it was stored): find it by its label.
        foreach (var s in await client.ListServersAsync($"{RunnerLabels.Runner}={runner.RunnerName}", ct).ConfigureAwait(false))
        {
            await DeleteWithRetryAsync(s.Id, ct).ConfigureAwait(false);
        }
    }

    /// <summary>When the shared server list was read (<see cref="HetznerOptions.ServerListMaxAge"/>).</summary>
    public DateTimeOffset? ListedAt => Volatile.Read(ref _listedAtTicks) is var ticks and > 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    private long _listedAtTicks;

    public async IAsyncEnumerable<ProvisionedRunner> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        IReadOnlyList<HServer> servers;
        try
        {
            servers = await ServersAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HetznerApiException or HttpRequestException)
        {
            throw new ProviderException("api_unreachable", $"Hetzner servers could not be listed: {e.Message}", e);
        }

        foreach (var s in servers)
        {
            yield return ToProvisioned(s);
        }
    }

    public bool MayRebuild(PoolDefinition pool, DateTimeOffset billedSince, DateTimeOffset now)
    {
        var settings = pool.ProviderSettingsAs<HetznerPoolSettings>();
        if (!settings.ReuseWithinPaidHour || now < billedSince)
        {
            return false;
        }

        // Hetzner bills every started hour from the server's creation: the minute of the paid hour now, and what is left of it.
        var intoHour = TimeSpan.FromTicks((now - billedSince).Ticks % TimeSpan.TicksPerHour);
        return intoHour < HetznerPoolSettings.LastReuseMinute && TimeSpan.FromHours(1) - intoHour >= settings.ReuseMargin;
    }

    public bool RebuildServesWholePool(PoolDefinition pool) =>
        string.Equals(pool.ProviderSettingsAs<HetznerPoolSettings>().ReuseFor, HetznerPoolSettings.ReuseForPool, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The server made new for another runner: labelled as it (<c>PUT /servers/{id}</c>), rebuilt from the pool's image for
    /// its architecture with the new runner's user data (<c>POST /servers/{id}/actions/rebuild</c>: a new root disk, the old
    /// one destroyed), and waited for like a create.
    /// </summary>
    public async Task<ProvisionedRunner> RebuildAsync(ProvisionedRunner resource, RunnerLaunch launch, CancellationToken ct)
    {
        if (!long.TryParse(resource.ResourceId, CultureInfo.InvariantCulture, out var id))
        {
            throw new ProviderException("invalid_input", $"Hetzner server id '{resource.ResourceId}' is not a number");
        }

        var settings = launch.Pool.ProviderSettingsAs<HetznerPoolSettings>();
        var labels = new Dictionary<string, string>
        {
            [RunnerLabels.Fleet] = launch.Fleet,
            [RunnerLabels.Pool] = launch.Pool.Name,
            [RunnerLabels.Runner] = launch.Name,
        };
        try
        {
            // Relabelled first: from now on the server is the new runner's, whatever happens next (the reaper finds it by it).
            var server = await client.SetServerLabelsAsync(id, labels, ct).ConfigureAwait(false)
                ?? throw new ProviderException("not_found", $"Hetzner server {id} is gone");
            Remember(server);
            var image = await ImageIdAsync(settings.Image, server.ServerType.Architecture, ct).ConfigureAwait(false);
            var started = time.GetUtcNow();
            var rebuild = await client.RebuildServerAsync(id, image, CloudInit.Render(launch), ct).ConfigureAwait(false);
            var done = await client.WaitForActionsAsync([rebuild.Id], ct, _rebuildTimes.Typical(options.Value.ActionPollInterval)).ConfigureAwait(false);
            if (done.FirstOrDefault(a => a.Status == "error") is { } failed)
            {
                throw new ProviderException("rebuild_failed", $"Hetzner rebuild of server {id} ended in error ({failed.Error?.Code} {failed.Error?.Message})");
            }

            if (done.FirstOrDefault() is { Finished: { } finished } action)
            {
                _rebuildTimes.Add(finished - action.Started);
            }

            var rebuilt = server with { Status = "starting", Labels = labels };
            Remember(rebuilt);
            LogRebuilt(logger, id, resource.RunnerName, launch.Name, (time.GetUtcNow() - started).TotalSeconds);
            return ToProvisioned(rebuilt);
        }
        catch (HetznerApiException e)
        {
            throw new ProviderException(e.Code == "not_found" ? "not_found" : "rebuild_failed", $"Hetzner rebuild of server {id} failed: {e.Code} {e.Message}", e);
        }
    }

    private readonly CreateDurations _rebuildTimes = new();

    /// <summary>
    /// What Hetzner answers when a type has no room in a location, whatever <c>GET /server_types</c> advertised:
    /// <c>resource_unavailable</c>, <c>placement_error</c> (hcloud-go ErrorCodePlacementError), and
    /// <c>invalid_input</c> "unsupported location for server type" (seen in 2026 while the type was still listed there).
    /// </summary>
    internal static bool IsCapacityRefusal(HetznerApiException e) =>
        e.Code is "resource_unavailable" or "placement_error"
        || (e.Code == "invalid_input" && e.Message.Contains("unsupported location", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The image id to create from: a snapshot or image id as given; a name resolved for the architecture, as the
    /// hcloud CLI and fleeting-plugin-hetzner do (<c>GET /images?name=…&amp;architecture=…</c>), cached.
    /// </summary>
    internal async Task<string> ImageIdAsync(string image, string architecture, CancellationToken ct)
    {
        if (long.TryParse(image, CultureInfo.InvariantCulture, out _))
        {
            return image;
        }

        if (_images.TryGetValue((image, architecture), out var id))
        {
            return id;
        }

        var found = (await client.ListImagesAsync(image, architecture, ct).ConfigureAwait(false)).FirstOrDefault(i => i.Architecture == architecture)
            ?? throw new ProviderException("invalid_input", $"Hetzner has no image '{image}' for architecture {architecture}");
        return _images[(image, architecture)] = found.Id.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Whether every server type of a pool has its image: a name must exist for each type's architecture, a
    /// snapshot id must be of that architecture. Null when so, else what is wrong (checked at start-up).
    /// </summary>
    public async Task<string?> ProbeImageAsync(PoolDefinition pool, CancellationToken ct)
    {
        var settings = pool.ProviderSettingsAs<HetznerPoolSettings>();
        var types = await ServerTypesAsync(ct).ConfigureAwait(false);
        var problems = new List<string>();
        foreach (var name in settings.ServerTypes)
        {
            if (types.FirstOrDefault(t => t.Name == name) is not { } type)
            {
                problems.Add($"server type {name} does not exist");
                continue;
            }

            if (long.TryParse(settings.Image, CultureInfo.InvariantCulture, out var snapshot))
            {
                var image = await client.GetImageAsync(snapshot, ct).ConfigureAwait(false);
                if (image is null)
                {
                    problems.Add($"image {snapshot} does not exist");
                }
                else if (image.Architecture != type.Architecture)
                {
                    problems.Add($"image {snapshot} is {image.Architecture}, server type {name} is {type.Architecture}");
                }

                continue;
            }

            try
            {
                await ImageIdAsync(settings.Image, type.Architecture, ct).ConfigureAwait(false);
            }
            catch (ProviderException e)
            {
                problems.Add($"{e.Message} (server type {name})");
            }
        }

        return problems.Count == 0 ? null : string.Join("; ", problems.Distinct());
    }

    /// <summary>
    /// A prepared snapshot whose runner (its <c>runnerfleet.runner-version</c> label, set by prepare-snapshot.sh) is
    /// older than GitHub's current release boots a runner that updates itself first (+30–60 s per job); said once
    /// per snapshot and release, with how to refresh it.
    /// </summary>
    private async Task WarnIfSnapshotIsBehindAsync(HetznerPoolSettings settings, IReadOnlyList<RunnerPackage> packages, CancellationToken ct)
    {
        if (!settings.PreparedImage || !long.TryParse(settings.Image, CultureInfo.InvariantCulture, out var id)
            || packages.Select(p => Version.TryParse(p.Version, out var v) ? v : null).Max() is not { } latest
            || !_snapshotsChecked.TryAdd((id, latest.ToString()), true))
        {
            return;
        }

        try
        {
            var image = await client.GetImageAsync(id, ct).ConfigureAwait(false);
            var has = image?.Labels?.GetValueOrDefault("runnerfleet.runner-version");
            if (has is null || !Version.TryParse(has, out var version) || version < latest)
            {
                LogSnapshotBehind(logger, id, has ?? "unknown (no runnerfleet.runner-version label)", latest.ToString());
            }
        }
        catch (HetznerApiException)
        {
            _snapshotsChecked.TryRemove((id, latest.ToString()), out _);
        }
    }

    /// <summary>
    /// The fleet's servers: one list (<c>GET /servers?label_selector=…</c>) serves every reader for
    /// <see cref="HetznerOptions.ServerListMaxAge"/>, kept current with this provider's own creates and deletes.
    /// The reaper reads it every few seconds; without sharing, listing alone would spend the hourly budget.
    /// </summary>
    private async Task<IReadOnlyList<HServer>> ServersAsync(CancellationToken ct)
    {
        IReadOnlyList<HServer> listed;
        DateTimeOffset listedAt;
        await _serversGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_servers is not { } cached || time.GetUtcNow() - cached.At >= options.Value.ServerListMaxAge)
            {
                var asked = time.GetUtcNow();
                _servers = cached = (asked, await client.ListServersAsync($"{RunnerLabels.Fleet}={pools.FleetName}", ct).ConfigureAwait(false));
                Volatile.Write(ref _listedAtTicks, asked.UtcTicks);
            }

            listed = cached.Servers;
            listedAt = cached.At;
        }
        finally
        {
            _serversGate.Release();
        }

        // What this provider did since (or while) the list was read: servers it made are in it, servers it deleted are not.
        var keep = time.GetUtcNow() - (options.Value.ServerListMaxAge * 2);
        foreach (var old in _made.Where(m => m.Value.At < keep).Select(m => m.Key).ToList())
        {
            _made.TryRemove(old, out _);
        }

        foreach (var old in _deleted.Where(d => d.Value < keep).Select(d => d.Key).ToList())
        {
            _deleted.TryRemove(old, out _);
        }

        // A server this provider changed after the list was read (made, or relabelled for a rebuild) is as it left it.
        var newer = _made.Where(m => !_deleted.ContainsKey(m.Key) && (m.Value.At >= listedAt || listed.All(s => s.Id != m.Key))).ToDictionary(m => m.Key, m => m.Value.Server);
        return [.. listed.Where(s => !_deleted.ContainsKey(s.Id) && !newer.ContainsKey(s.Id)), .. newer.Values];
    }

    private void Remember(HServer server) => _made[server.Id] = (server, time.GetUtcNow());

    private void Forget(long id) => _deleted[id] = time.GetUtcNow();

    private async Task DeleteWithRetryAsync(long id, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await client.DeleteServerAsync(id, ct).ConfigureAwait(false);
                Forget(id);
                return;
            }
            catch (HetznerApiException e) when (e.Code is "locked" or "conflict" && attempt < 8)
            {
                // An action is still running on the server (its create, say): wait for it and try again.
                await Task.Delay(TimeSpan.FromMilliseconds(250 * Math.Pow(2, attempt - 1)), time, ct).ConfigureAwait(false);
            }
            catch (HetznerApiException e)
            {
                throw new ProviderException(e.Code, $"Hetzner delete of server {id} failed: {e.Message}", e);
            }
        }
    }

    /// <summary>A capacity refusal: what <c>GET /server_types</c> said is out of date; the next create reads it again.</summary>
    private void TypesRefused() => Volatile.Write(ref _typesStale, 1);

    private int _typesStale;

    private async Task<IReadOnlyList<HServerType>> ServerTypesAsync(CancellationToken ct)
    {
        await _typesGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_types is not { } cached || time.GetUtcNow() - cached.At > s_typesFor || Interlocked.Exchange(ref _typesStale, 0) == 1)
            {
                _types = cached = (time.GetUtcNow(), await client.ListServerTypesAsync(ct).ConfigureAwait(false));
            }

            return cached.Types;
        }
        finally
        {
            _typesGate.Release();
        }
    }

    private async Task<long> FirewallAsync(HetznerPoolSettings settings, CancellationToken ct)
    {
        var name = settings.Firewall ?? $"runnerfleet-{pools.FleetName}";
        lock (_firewalls)
        {
            if (_firewalls.TryGetValue(name, out var id))
            {
                return id;
            }
        }

        var existing = (await client.ListFirewallsAsync(name, ct).ConfigureAwait(false)).FirstOrDefault(f => f.Name == name);
        if (existing is null)
        {
            if (settings.Firewall is not null)
            {
                throw new ProviderException("invalid_input", $"Hetzner firewall '{name}' does not exist");
            }

            try
            {
                // No inbound rules: Hetzner firewalls deny what no rule allows. Outbound stays open.
                existing = await client.CreateFirewallAsync(new HCreateFirewallRequest(name, [], new Dictionary<string, string> { [RunnerLabels.Fleet] = pools.FleetName }), ct).ConfigureAwait(false);
            }
            catch (HetznerApiException e) when (e.Code == "uniqueness_error")
            {
                existing = (await client.ListFirewallsAsync(name, ct).ConfigureAwait(false)).First(f => f.Name == name);
            }
        }

        lock (_firewalls)
        {
            _firewalls[name] = existing.Id;
        }

        return existing.Id;
    }

    private static ProvisionedRunner ToProvisioned(HServer s) => new()
    {
        ResourceId = s.Id.ToString(CultureInfo.InvariantCulture),
        RunnerName = s.Labels.GetValueOrDefault(RunnerLabels.Runner) ?? s.Name,
        Pool = s.Labels.GetValueOrDefault(RunnerLabels.Pool),
        Endpoint = $"{s.ServerType.Name}@{s.Location.Name}",
        Status = s.Status switch
        {
            "off" => ProvisionedStatus.Exited,
            "initializing" or "starting" or "rebuilding" => ProvisionedStatus.Starting,
            _ => ProvisionedStatus.Running,
        },
        HourlyPrice = s.ServerType.HourlyGross(s.Location.Name),
        BilledSince = s.Created,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prepared snapshot {Image} has actions/runner {Has}, GitHub's current release is {Latest}: each runner updates itself before its job (+30-60 s). Refresh the snapshot (infra/hetzner/prepare-snapshot.sh)")]
    private static partial void LogSnapshotBehind(ILogger logger, long image, string has, string latest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hetzner server for {RunnerName} already existed ({ServerId}): an earlier create attempt made it; adopted")]
    private static partial void LogAdopted(ILogger logger, string runnerName, long serverId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Hetzner {ServerType} unavailable in {Location} for {RunnerName} ({Code}); trying the next")]
    private static partial void LogUnavailable(ILogger logger, string serverType, string location, string runnerName, string code);

    [LoggerMessage(Level = LogLevel.Information, Message = "Hetzner server {ServerId} of {OldRunner} rebuilt for {RunnerName} in {Seconds:F1} s (within its paid hour)")]
    private static partial void LogRebuilt(ILogger logger, long serverId, string oldRunner, string runnerName, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Hetzner server for {RunnerName}: {ServerType} in {Location} at {HourlyPrice} EUR/h")]
    private static partial void LogCreated(ILogger logger, string runnerName, string serverType, string location, decimal hourlyPrice);

    /// <summary>
    /// How long this project's server creates took lately (the create action's started → finished, as Hetzner reports
    /// it): the median of the last 15, before which a create's action is not worth polling. Until one is seen, five
    /// poll intervals (10 s as shipped; Hetzner's creates take 10-40 s).
    /// </summary>
    internal sealed class CreateDurations
    {
        private const int Keep = 15;
        private readonly Lock _gate = new();
        private readonly Queue<TimeSpan> _recent = new();

        public void Add(TimeSpan took)
        {
            if (took <= TimeSpan.Zero)
            {
                return;
            }

            lock (_gate)
            {
                _recent.Enqueue(took);
                if (_recent.Count > Keep)
                {
                    _recent.Dequeue();
                }
            }
        }

        /// <summary>When to poll first: the median, no earlier than one interval and no later than 30 of them.</summary>
        public TimeSpan Typical(TimeSpan interval)
        {
            TimeSpan median;
            lock (_gate)
            {
                if (_recent.Count == 0)
                {
                    return interval * 5;
                }

                var sorted = _recent.Order().ToList();
                median = sorted[sorted.Count / 2];
            }

            return TimeSpan.FromTicks(Math.Clamp(median.Ticks, interval.Ticks, interval.Ticks * 30));
        }
    }
}
