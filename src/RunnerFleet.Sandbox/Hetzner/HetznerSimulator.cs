using System.Globalization;
using System.Text.Json.Nodes;
using RunnerFleet.Sandbox.Runner;

namespace RunnerFleet.Sandbox.Hetzner;

/// <summary>
/// A simulated Hetzner Cloud project: server types with per-location availability and prices, locations,
/// images, SSH keys, firewalls, servers and actions that progress over time. A created server "boots"
/// after <see cref="HetznerSimulatorOptions.BootDelay"/>, runs the simulated runner with the JIT config (or
/// registration token) in its cloud-init user data, and powers off when the runner exits.
/// </summary>
public sealed class HetznerSimulator
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly HttpClient _runnerHttp;
    private readonly Dictionary<long, SimServer> _servers = [];
    private readonly Dictionary<long, SimAction> _actions = [];
    private readonly Dictionary<(string Type, string Location), bool> _availability = [];
    private readonly Dictionary<(string Type, string Location), SimCreateRefusal> _refusals = [];
    private readonly List<SimHetznerFault> _faults = [];
    private readonly List<(long Id, string Name, string Fingerprint, string PublicKey)> _sshKeys = [];
    private readonly List<(long Id, string Name, JsonArray Rules, JsonObject Labels)> _firewalls = [];
    private long _nextId = 5000;
    private double _rateBudget;
    private DateTimeOffset _rateAt;

    public HetznerSimulator(HetznerSimulatorOptions options, TimeProvider time, HttpClient runnerHttp)
    {
        Options = options;
        _time = time;
        _runnerHttp = runnerHttp;
        _rateBudget = options.RateLimitPerHour;
        _rateAt = time.GetUtcNow();
    }

    public HetznerSimulatorOptions Options { get; }

    public static IReadOnlyList<SimServerType> ServerTypes { get; } =
    [
        new(1, "cax11", "CAX11", 2, 4, 40, "arm", 0.0063m),
        new(2, "cax21", "CAX21", 4, 8, 80, "arm", 0.0111m),
        new(3, "cax31", "CAX31", 8, 16, 160, "arm", 0.0222m),
        new(4, "cpx22", "CPX22", 2, 4, 80, "x86", 0.0119m),
        new(5, "cx33", "CX33", 4, 8, 80, "x86", 0.0095m),
    ];

    public static IReadOnlyList<(long Id, string Name, string City, string Country, string Zone)> Locations { get; } =
    [
        (1, "fsn1", "Falkenstein", "DE", "eu-central"),
        (2, "nbg1", "Nuremberg", "DE", "eu-central"),
        (3, "hel1", "Helsinki", "FI", "eu-central"),
    ];

    public static IReadOnlyList<(long Id, string Name, string Architecture)> Images { get; } =
    [
        (161547269, "ubuntu-24.04", "x86"),
        (161547270, "ubuntu-24.04", "arm"),
        (114690387, "debian-12", "x86"),
        (114690389, "debian-12", "arm"),
    ];

    /// <summary>Every server ever created, deleted ones included (for tests).</summary>
    public IReadOnlyList<SimServer> AllServers()
    {
        lock (_gate)
        {
            return [.. _servers.Values.OrderBy(s => s.Id)];
        }
    }

    private readonly Dictionary<long, IReadOnlyList<string>> _diskSeen = [];

    /// <summary>The files a job found on its server's disk when it started (null: it ran on no simulated server).</summary>
    public IReadOnlyList<string>? DiskSeenBy(long jobId)
    {
        lock (_gate)
        {
            return _diskSeen.GetValueOrDefault(jobId);
        }
    }

    public IReadOnlyList<SimServer> LiveServers() => [.. AllServers().Where(s => !s.Deleted)];

    public bool IsAvailable(string type, string location)
    {
        lock (_gate)
        {
            return _availability.GetValueOrDefault((type, location), true);
        }
    }

    public void SetAvailability(string type, string location, bool available)
    {
        lock (_gate)
        {
            _availability[(type, location)] = available;
        }
    }

    /// <summary>
    /// How creates of a type in a location are refused while they are advertised as available, as Hetzner
    /// refuses them in practice: <c>placement_error</c> ("error during placement", hcloud-go's
    /// ErrorCodePlacementError) and <c>invalid_input</c> "unsupported location for server type" (seen in 2026 for
    /// types the API still listed in that location). Null: no refusal.
    /// </summary>
    public void RefuseCreates(string type, string location, SimCreateRefusal? refusal)
    {
        lock (_gate)
        {
            if (refusal is null)
            {
                _refusals.Remove((type, location));
            }
            else
            {
                _refusals[(type, location)] = refusal.Value;
            }
        }
    }

    public void AddFault(SimHetznerFault fault)
    {
        lock (_gate)
        {
            _faults.Add(fault);
        }
    }

    public SimHetznerFault? TakeFault(string method, string path)
    {
        lock (_gate)
        {
            var f = _faults.FirstOrDefault(x => x.Count > 0 && path.StartsWith(x.PathPrefix, StringComparison.Ordinal) && (x.Method is null || string.Equals(x.Method, method, StringComparison.OrdinalIgnoreCase)));
            if (f is not null && --f.Count == 0)
            {
                _faults.Remove(f);
            }

            return f;
        }
    }

    /// <summary>Every API request answered so far (for the request budget per runner).</summary>
    public int RequestsServed => Volatile.Read(ref _requestsServed);

    private int _requestsServed;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _requestsByRoute = new(StringComparer.Ordinal);

    /// <summary>Requests answered so far by route (<c>GET /servers/{id}</c>: ids folded, query dropped).</summary>
    public IReadOnlyDictionary<string, int> RequestsByRoute => new SortedDictionary<string, int>(_requestsByRoute, StringComparer.Ordinal);

    public void CountRequest(string method, string path)
    {
        Interlocked.Increment(ref _requestsServed);
        var route = string.Join('/', path.Split('/').Select(p => p.Length > 0 && p.All(char.IsAsciiDigit) ? "{id}" : p));
        _requestsByRoute.AddOrUpdate($"{method} {route}", 1, (_, n) => n + 1);
    }

    /// <summary>Charges one request: (allowed, limit, remaining, reset epoch seconds).</summary>
    public (bool Allowed, int Limit, int Remaining, long Reset) ChargeRequest()
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var limit = Options.RateLimitPerHour;
            _rateBudget = Math.Min(limit, _rateBudget + ((now - _rateAt).TotalSeconds * limit / 3600.0));
            _rateAt = now;
            var allowed = _rateBudget >= 1;
            if (allowed)
            {
                _rateBudget -= 1;
            }

            var remaining = (int)Math.Floor(_rateBudget);
            var reset = now.AddSeconds((limit - _rateBudget) * 3600.0 / limit).ToUnixTimeSeconds();
            return (allowed, limit, remaining, reset);
        }
    }

    public void ExhaustRateLimit()
    {
        lock (_gate)
        {
            _rateBudget = 0;
            _rateAt = _time.GetUtcNow();
        }
    }

    public int FailNextCreateActions { get; set; }

    // ---------------------------------------------------------------- servers

    public sealed record CreateResult(SimServer? Server, SimAction? Action, string? ErrorCode, string? ErrorMessage);

    public CreateResult CreateServer(string name, string serverType, string image, string? location, IReadOnlyDictionary<string, string> labels, string? userData, bool ipv4, IReadOnlyList<long> firewalls)
    {
        lock (_gate)
        {
            var type = ServerTypes.FirstOrDefault(t => t.Name == serverType);
            if (type is null)
            {
                return new(null, null, "invalid_input", $"invalid input in field 'server_type': server type {serverType} not found");
            }

            var loc = location ?? "fsn1";
            if (!Locations.Any(l => l.Name == loc))
            {
                return new(null, null, "invalid_input", $"invalid input in field 'location': location {loc} not found");
            }

            // Hetzner: "name: Name of the Server to create (must be unique per Project and a valid hostname as per
            // RFC 1123)" (openapi, POST /servers); a hostname label is at most 63 characters.
            if (!IsHostname(name))
            {
                return new(null, null, "invalid_input", $"invalid input in field 'name': '{name}' is not a valid hostname (RFC 1123, at most 63 characters per label)");
            }

            // Labels (docs.hetzner.cloud, "Labels"): values at most 63 characters of [a-z0-9A-Z-_.], starting and
            // ending alphanumeric, or empty; keys an optional DNS prefix and a name of the same shape.
            if (labels.FirstOrDefault(l => !IsLabelKey(l.Key) || !IsLabelValue(l.Value)) is { Key: not null } bad)
            {
                return new(null, null, "invalid_input", $"invalid input in field 'labels': label {bad.Key}={bad.Value} is not valid");
            }

            // An image id names one image; a name exists once per architecture (hcloud-go: "Image names are not
            // unique across architectures", hence Image.GetForArchitecture). Given by name alone, the API takes
            // the x86 image, so an ARM type created with "ubuntu-24.04" is refused: clients must resolve the id.
            var img = Images.FirstOrDefault(i => i.Id.ToString(CultureInfo.InvariantCulture) == image);
            if (img == default)
            {
                img = Images.Where(i => i.Name == image).OrderBy(i => i.Architecture == "x86" ? 0 : 1).FirstOrDefault();
            }

            if (img == default)
            {
                return new(null, null, "invalid_input", $"invalid input in field 'image': image {image} not found");
            }

            if (img.Architecture != type.Architecture)
            {
                return new(null, null, "invalid_input", $"invalid input in field 'image': image {image} ({img.Architecture}) does not match the architecture of server type {type.Name} ({type.Architecture})");
            }

            if (_servers.Values.Any(s => !s.Deleted && s.Name == name))
            {
                return new(null, null, "uniqueness_error", "server name is already used");
            }

            if (_servers.Values.Count(s => !s.Deleted) >= Options.MaxServers)
            {
                return new(null, null, "resource_limit_exceeded", "server limit exceeded");
            }

            if (!_availability.GetValueOrDefault((type.Name, loc), true))
            {
                return new(null, null, "resource_unavailable", $"server type {type.Name} is unavailable in {loc}");
            }

            if (_refusals.TryGetValue((type.Name, loc), out var refusal))
            {
                return refusal == SimCreateRefusal.PlacementError
                    ? new(null, null, "placement_error", "error during placement")
                    : new(null, null, "invalid_input", $"unsupported location for server type: {type.Name} in {loc}");
            }

            if (userData is { Length: > 32 * 1024 })
            {
                return new(null, null, "invalid_input", "invalid input in field 'user_data': is too long");
            }

            var now = _time.GetUtcNow();
            var server = new SimServer
            {
                Id = ++_nextId,
                Name = name,
                Type = type,
                Location = loc,
                ImageId = img.Id,
                ImageName = img.Name,
                Labels = new Dictionary<string, string>(labels),
                UserData = userData,
                Ipv4 = ipv4,
                Firewalls = [.. firewalls],
                Created = now,
                Status = "initializing",
            };
            _servers[server.Id] = server;
            var fails = FailNextCreateActions > 0;
            if (fails)
            {
                FailNextCreateActions--;
            }

            var action = NewActionLocked("create_server", server.Id, Options.BootDelay, fails ? ("server_error", "server could not be created") : null);
            server.Locked = true;
            return new(server, action, null, null);
        }
    }

    public SimServer? GetServer(long id)
    {
        lock (_gate)
        {
            Advance();
            return _servers.TryGetValue(id, out var s) && !s.Deleted ? s : null;
        }
    }

    public IReadOnlyList<SimServer> ListServers(string? selector, string? name)
    {
        lock (_gate)
        {
            Advance();
            return [.. _servers.Values.Where(s => !s.Deleted && (name is null || s.Name == name) && LabelSelector.Matches(selector, s.Labels)).OrderBy(s => s.Id)];
        }
    }

    public (SimAction? Action, string? ErrorCode) DeleteServer(long id) => WithUnlockedServer(id, s =>
    {
        s.Deleted = true;
        s.Status = "deleting";
        s.DeletedAt = _time.GetUtcNow();
        s.RunnerStop?.Cancel();
        return NewActionLocked("delete_server", id, Options.ActionDelay, null);
    });

    /// <summary><c>POST /servers/{id}/actions/poweroff</c>: the server stops at once (a hard power-off).</summary>
    public (SimAction? Action, string? ErrorCode) PowerOff(long id) => WithUnlockedServer(id, s =>
    {
        s.Locked = true;
        s.RunnerStop?.Cancel();
        return NewActionLocked("stop_server", id, Options.ActionDelay, null);
    });

    /// <summary>What a rebuild answers: its action and the new root password, or why it was refused.</summary>
    public sealed record RebuildResult(SimAction? Action, string? RootPassword, string? ErrorCode, string? ErrorMessage);

    /// <summary>Rebuilds fail (their action ends in error) this many more times.</summary>
    public int FailNextRebuildActions { get; set; }

    /// <summary>
    /// <c>POST /servers/{id}/actions/rebuild</c> (Hetzner's OpenAPI description): "Rebuilds a Server overwriting its disk
    /// with the content of an Image, thereby destroying all data on the target Server"; "Your Server will automatically
    /// be powered off before the rebuild command executes". The image by id, or by name for system images only; an
    /// image of another architecture than the server type's is refused, as on create. <c>user_data</c> at most 32 KiB,
    /// "If not specified, the Server's previous user_data value will be re-used". The answer carries a new
    /// <c>root_password</c> "when not using SSH keys". The server is locked (status <c>rebuilding</c>) until the action
    /// ends; then it boots from the new disk and runs cloud-init with the user data.
    /// </summary>
    public RebuildResult RebuildServer(long id, string image, string? userData)
    {
        lock (_gate)
        {
            Advance();
            if (!_servers.TryGetValue(id, out var s) || s.Deleted)
            {
                return new(null, null, "not_found", $"server with ID '{id}' not found");
            }

            if (s.Locked)
            {
                return new(null, null, "locked", "server is locked");
            }

            var img = Images.FirstOrDefault(i => i.Id.ToString(CultureInfo.InvariantCulture) == image);
            if (img == default)
            {
                // A name means the x86 image, as on create (see CreateServer).
                img = Images.Where(i => i.Name == image).OrderBy(i => i.Architecture == "x86" ? 0 : 1).FirstOrDefault();
            }

            if (img == default)
            {
                return new(null, null, "invalid_input", $"invalid input in field 'image': image {image} not found");
            }

            if (img.Architecture != s.Type.Architecture)
            {
                return new(null, null, "invalid_input", $"invalid input in field 'image': image {image} ({img.Architecture}) does not match the architecture of server type {s.Type.Name} ({s.Type.Architecture})");
            }

            if (userData is { Length: > 32 * 1024 })
            {
                return new(null, null, "invalid_input", "invalid input in field 'user_data': is too long");
            }

            // Powered off first: the runner on it stops; then the disk is overwritten.
            s.RunnerStop?.Cancel();
            s.RunnerStop = null;
            s.RunnerError = null;
            s.Status = "rebuilding";
            s.Locked = true;
            s.ImageId = img.Id;
            s.ImageName = img.Name;
            s.UserData = userData ?? s.UserData;
            s.Disk = new HashSet<string>(StringComparer.Ordinal);
            s.Rebuilds++;
            var fails = FailNextRebuildActions > 0;
            if (fails)
            {
                FailNextRebuildActions--;
            }

            var action = NewActionLocked("rebuild_server", id, Options.BootDelay, fails ? ("server_error", "server could not be rebuilt") : null);
            return new(action, s.HasSshKeys ? null : Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)), null, null);
        }
    }

    /// <summary>
    /// <c>PUT /servers/{id}</c>: a new name and/or labels; "the set of Labels provided in the request will overwrite the
    /// existing one" (Hetzner's OpenAPI description, UpdateServerRequest). Names and labels are checked as on create.
    /// </summary>
    public (SimServer? Server, string? ErrorCode, string? ErrorMessage) UpdateServer(long id, string? name, IReadOnlyDictionary<string, string>? labels)
    {
        lock (_gate)
        {
            Advance();
            if (!_servers.TryGetValue(id, out var s) || s.Deleted)
            {
                return (null, "not_found", $"server with ID '{id}' not found");
            }

            if (name is not null && !IsHostname(name))
            {
                return (null, "invalid_input", $"invalid input in field 'name': '{name}' is not a valid hostname (RFC 1123, at most 63 characters per label)");
            }

            if (name is not null && _servers.Values.Any(o => !o.Deleted && o.Id != id && o.Name == name))
            {
                return (null, "uniqueness_error", "server name is already used");
            }

            if (labels?.FirstOrDefault(l => !IsLabelKey(l.Key) || !IsLabelValue(l.Value)) is { Key: not null } bad)
            {
                return (null, "invalid_input", $"invalid input in field 'labels': label {bad.Key}={bad.Value} is not valid");
            }

            if (labels is not null)
            {
                s.Labels = new Dictionary<string, string>(labels);
            }

            return (s, null, null);
        }
    }

    /// <summary>Runs <paramref name="act"/> on a live server no action holds; else not_found or locked, as the API answers.</summary>
    private (SimAction? Action, string? ErrorCode) WithUnlockedServer(long id, Func<SimServer, SimAction> act)
    {
        lock (_gate)
        {
            Advance();
            if (!_servers.TryGetValue(id, out var s) || s.Deleted)
            {
                return (null, "not_found");
            }

            return s.Locked ? (null, "locked") : (act(s), null);
        }
    }

    public SimAction? GetAction(long id)
    {
        lock (_gate)
        {
            Advance();
            return _actions.GetValueOrDefault(id);
        }
    }

    public IReadOnlyList<SimAction> GetActions(IReadOnlyCollection<long> ids)
    {
        lock (_gate)
        {
            Advance();
            return [.. ids.Select(i => _actions.GetValueOrDefault(i)).Where(a => a is not null)!];
        }
    }

    public (long Id, string Name, string Fingerprint, string PublicKey) AddSshKey(string name, string publicKey)
    {
        lock (_gate)
        {
            var key = (++_nextId, name, "b7:2f:30:a0:2f:6c:58:6c:21:04:58:61:ba:06:3b:2f", publicKey);
            _sshKeys.Add(key);
            return key;
        }
    }

    public IReadOnlyList<(long Id, string Name, string Fingerprint, string PublicKey)> SshKeys()
    {
        lock (_gate)
        {
            return [.. _sshKeys];
        }
    }

    public (long Id, string Name, JsonArray Rules, JsonObject Labels) AddFirewall(string name, JsonArray rules, JsonObject labels)
    {
        lock (_gate)
        {
            var fw = (++_nextId, name, rules, labels);
            _firewalls.Add(fw);
            return fw;
        }
    }

    public IReadOnlyList<(long Id, string Name, JsonArray Rules, JsonObject Labels)> Firewalls()
    {
        lock (_gate)
        {
            return [.. _firewalls];
        }
    }

    public T Read<T>(Func<T> read)
    {
        lock (_gate)
        {
            Advance();
            return read();
        }
    }

    // ---------------------------------------------------------------- time

    /// <summary>Moves actions and servers forward to now; starts runners on servers that finished booting.</summary>
    private void Advance()
    {
        var now = _time.GetUtcNow();
        foreach (var a in _actions.Values.Where(a => a.Status == "running"))
        {
            var total = a.Duration.TotalMilliseconds <= 0 ? 1 : a.Duration.TotalMilliseconds;
            a.Progress = (int)Math.Clamp((now - a.Started).TotalMilliseconds * 100 / total, 0, 100);
            if (now < a.Started + a.Duration)
            {
                continue;
            }

            a.Finished = a.Started + a.Duration;
            a.Progress = 100;
            a.Status = a.Error is null ? "success" : "error";
            if (!_servers.TryGetValue(a.ServerId, out var s))
            {
                continue;
            }

            s.Locked = false;
            switch (a.Command)
            {
                case "create_server" when a.Error is null && !s.Deleted:
                    s.Status = "running";
                    StartRunnerLocked(s);
                    break;
                case "create_server":
                    s.Status = "off";
                    break;
                case "stop_server":
                    s.Status = "off";
                    break;
                case "rebuild_server" when a.Error is null && !s.Deleted:
                    // Boots from the new disk: cloud-init runs the (new) user data.
                    s.Status = "running";
                    StartRunnerLocked(s);
                    break;
                case "rebuild_server":
                    s.Status = "off";
                    break;
            }
        }
    }

    private SimAction NewActionLocked(string command, long serverId, TimeSpan duration, (string Code, string Message)? error)
    {
        var action = new SimAction { Id = ++_nextId, Command = command, ServerId = serverId, Started = _time.GetUtcNow(), Duration = duration, Error = error };
        _actions[action.Id] = action;
        return action;
    }

    /// <summary>What cloud-init does on a real server: read the runner settings from the user data and run the runner; power off after.</summary>
    private void StartRunnerLocked(SimServer server)
    {
        var env = ParseRunnerEnvironment(server.UserData);
        if (env.Count == 0)
        {
            return;
        }

        var stop = new CancellationTokenSource();
        server.RunnerStop = stop;
        _ = Task.Run(async () =>
        {
            // The user data's pre-job hook, run as actions/runner runs ACTIONS_RUNNER_HOOK_JOB_STARTED.
            var disk = server.Disk;
            var runner = new SimulatedRunner(_runnerHttp, _time)
            {
                JobStartedHook = JobStartedHook.FromUserData(server.UserData),
                // The job sees the disk it was given, then leaves a file of its own on it (a build's output, a cache).
                OnJob = jobId =>
                {
                    lock (_gate)
                    {
                        _diskSeen[jobId] = [.. disk.Order(StringComparer.Ordinal)];
                        disk.Add($"/home/runner/_work/job-{jobId}");
                    }
                },
            };
            try
            {
                if (env.TryGetValue("ACTIONS_RUNNER_INPUT_JITCONFIG", out var jit))
                {
                    await runner.RunWithJitConfigAsync(jit, stop.Token).ConfigureAwait(false);
                }
                else if (env.TryGetValue("ACTIONS_RUNNER_INPUT_TOKEN", out var token))
                {
                    // config.sh reads --ephemeral and --no-default-labels from its command line only (actions/runner).
                    var script = ParseWriteFiles(server.UserData).GetValueOrDefault("/usr/local/sbin/runnerfleet-start") ?? string.Empty;
                    await runner.RunWithRegistrationTokenAsync(new Uri(env["ACTIONS_RUNNER_INPUT_URL"]), token, env.GetValueOrDefault("ACTIONS_RUNNER_INPUT_NAME") ?? server.Name,
                        (env.GetValueOrDefault("ACTIONS_RUNNER_INPUT_LABELS") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries), stop.Token,
                        ephemeral: script.Contains("--ephemeral", StringComparison.Ordinal), noDefaultLabels: script.Contains("--no-default-labels", StringComparison.Ordinal)).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or HttpRequestException or FormatException or KeyNotFoundException)
            {
                lock (_gate)
                {
                    if (server.RunnerStop == stop)
                    {
                        server.RunnerError = e.Message;
                    }
                }
            }

            lock (_gate)
            {
                // The cloud-init script powers the server off when the runner exits; a runner stopped by a rebuild
                // (a newer generation runs on the server now) changes nothing.
                if (!server.Deleted && server.RunnerStop == stop)
                {
                    server.Status = "off";
                }
            }
        });
    }

    private static bool IsHostname(string name) =>
        name.Length is > 0 and <= 253 && name.Split('.').All(l => l.Length is > 0 and <= 63 && char.IsAsciiLetterOrDigit(l[0]) && char.IsAsciiLetterOrDigit(l[^1])
            && l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));

    private static bool IsLabelValue(string value) =>
        value.Length == 0 || (value.Length <= 63 && char.IsAsciiLetterOrDigit(value[0]) && char.IsAsciiLetterOrDigit(value[^1])
            && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'));

    private static bool IsLabelKey(string key)
    {
        var slash = key.LastIndexOf('/');
        var prefix = slash < 0 ? null : key[..slash];
        return IsLabelValue(key[(slash + 1)..]) && key.Length > slash + 1 && (prefix is null || (prefix.Length <= 253 && IsHostname(prefix)));
    }

    /// <summary>The runner settings RunnerFleet's user data writes to <c>/etc/runnerfleet/runner.env</c> (<c>KEY=value</c> lines).</summary>
    public static Dictionary<string, string> ParseRunnerEnvironment(string? userData)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!ParseWriteFiles(userData).TryGetValue("/etc/runnerfleet/runner.env", out var file))
        {
            return env;
        }

        foreach (var line in file.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = line.Split('=', 2);
            if (kv.Length == 2 && !line.StartsWith('#'))
            {
                env[kv[0]] = kv[1].Trim('"', '\'');
            }
        }

        return env;
    }

    /// <summary>
    /// The files of a <c>#cloud-config</c>'s <c>write_files</c> whose content is a literal block (<c>content: |</c>),
    /// by path, as cloud-init writes them (cloudinit.readthedocs.io, module "Write Files"). Only what RunnerFleet
    /// writes is understood; anything else is not a file here.
    /// </summary>
    public static Dictionary<string, string> ParseWriteFiles(string? userData)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = (userData ?? string.Empty).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (lines.Length == 0 || lines[0] != "#cloud-config")
        {
            return files;
        }

        string? path = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var trimmed = lines[i].Trim();
            if (trimmed.StartsWith("- path:", StringComparison.Ordinal))
            {
                path = trimmed["- path:".Length..].Trim();
            }
            else if (path is not null && trimmed == "content: |")
            {
                var indent = lines[i].Length - lines[i].TrimStart().Length + 2;
                var body = new System.Text.StringBuilder();
                for (i++; i < lines.Length && (lines[i].Trim().Length == 0 || lines[i].Length - lines[i].TrimStart().Length >= indent); i++)
                {
                    body.Append(lines[i].Length >= indent ? lines[i][indent..] : string.Empty).Append('\n');
                }

                i--;
                files[path] = body.ToString().TrimEnd('\n') + "\n";
                path = null;
            }
        }

        return files;
    }
}

/// <summary>How <see cref="HetznerSimulator.RefuseCreates"/> refuses creates of an advertised type and location.</summary>
public enum SimCreateRefusal
{
    PlacementError,
    UnsupportedLocation,
}

/// <summary>A server type of the simulator, one hourly gross price in every location.</summary>
public sealed record SimServerType(long Id, string Name, string Description, int Cores, int Memory, int Disk, string Architecture, decimal HourlyGross);

/// <summary>A simulated server.</summary>
public sealed class SimServer
{
    public required long Id { get; init; }
    public required string Name { get; init; }
    public required SimServerType Type { get; init; }
    public required string Location { get; init; }
    public required long ImageId { get; set; }
    public required string ImageName { get; set; }
    public required Dictionary<string, string> Labels { get; set; }
    public string? UserData { get; set; }

    /// <summary>Whether the server was made with SSH keys (a rebuild then sets no root password).</summary>
    public bool HasSshKeys { get; set; }

    /// <summary>The server's root disk as the simulated runner sees it: the files its jobs left (a rebuild wipes it).</summary>
    public HashSet<string> Disk { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How often the server was rebuilt.</summary>
    public int Rebuilds { get; set; }
    public bool Ipv4 { get; init; }
    public IReadOnlyList<long> Firewalls { get; init; } = [];
    public required DateTimeOffset Created { get; init; }
    public string Status { get; set; } = "initializing";
    public bool Locked { get; set; }
    public bool Deleted { get; set; }
    public DateTimeOffset? DeletedAt { get; set; }
    public CancellationTokenSource? RunnerStop { get; set; }
    public string? RunnerError { get; set; }
}

/// <summary>A simulated action.</summary>
public sealed class SimAction
{
    public required long Id { get; init; }
    public required string Command { get; init; }
    public required long ServerId { get; init; }
    public required DateTimeOffset Started { get; init; }
    public required TimeSpan Duration { get; init; }
    public (string Code, string Message)? Error { get; init; }
    public string Status { get; set; } = "running";
    public int Progress { get; set; }
    public DateTimeOffset? Finished { get; set; }
}

/// <summary>An injected Hetzner API error: the next <see cref="Count"/> matching requests answer it.</summary>
public sealed class SimHetznerFault
{
    public required string PathPrefix { get; init; }
    public string? Method { get; init; }
    /// <summary>The code that answers late instead of failing: the request is served at once, its answer sent after <see cref="Delay"/>.</summary>
    public const string Slow = "slow";

    public required string Code { get; init; }
    public int Count { get; set; } = 1;
    public TimeSpan Delay { get; init; }
}
