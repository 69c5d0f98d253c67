using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RunnerFleet.Controller.Channels.Rest;
using RunnerFleet.Controller.Channels.ScaleSet;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Providers.Docker;
using RunnerFleet.Controller.Providers.Hetzner;
using RunnerFleet.Controller.Providers.Qemu;

namespace RunnerFleet.Controller.Tests.Configuration;

public sealed class OptionsValidationTests
{
    // The plug-ins as the controller registers them: names and settings are checked against what is registered.
    private static readonly ServiceProvider s_plugins = new ServiceCollection().AddDockerProvider().AddHetznerProvider().AddQemuProvider().AddRestChannel().AddScaleSetChannel().BuildServiceProvider();

    private static PoolOptions GoodPool(string name = "linux") => new() { Name = name, Labels = ["linux", "x64"], Provider = "docker", MaxRunners = 4 };

    private static FleetOptionsValidator Validator(IConfiguration? configuration = null) =>
        new(s_plugins.GetServices<ProviderPlugin>(), s_plugins.GetServices<ChannelPlugin>(), configuration);

    private static IEnumerable<string> Fleet(FleetOptions o) => Validator().Validate(null, o).Failures ?? [];

    /// <summary>A pool given as configuration keys under Fleet:Pools:0, as an operator writes it: the plug-ins read their own keys.</summary>
    private static IEnumerable<string> FleetFromKeys(Dictionary<string, string?> pool)
    {
        var keys = new Dictionary<string, string?> { ["Fleet:Pools:0:Name"] = "linux", ["Fleet:Pools:0:Labels:0"] = "linux", ["Fleet:Pools:0:Provider"] = "docker" };
        foreach (var (k, v) in pool)
        {
            keys[$"Fleet:Pools:0:{k}"] = v;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(keys).Build();
        return Validator(configuration).Validate(null, configuration.GetSection("Fleet").Get<FleetOptions>()!).Failures ?? [];
    }

    [Theory]
    [InlineData("Registration", "magic", "Fleet:Pools:0:Registration")]
    [InlineData("Docker:Platform", "arm64", "Fleet:Pools:0:Docker:Platform")]
    [InlineData("Docker:Cpus", "0", "Fleet:Pools:0:Docker limits")]
    [InlineData("Docker:Cpus", "lots", "Fleet:Pools:0:Docker")]
    [InlineData("Discovery", "Carrier-Pigeon", "Fleet:Pools:0:Discovery")]
    [InlineData("Provider", "hetzner", "Fleet:Pools:0:Hetzner:ServerTypes")]
    public void A_bad_plugin_setting_names_its_key(string key, string value, string expected) =>
        Assert.Contains(FleetFromKeys(new() { [key] = value }), f => f.StartsWith(expected, StringComparison.Ordinal));

    [Theory]
    [InlineData("Cache:Paths:0", "relative/.cache", "Fleet:Pools:0:Cache:Paths:0 must be an absolute guest path")]
    [InlineData("Cache:Paths:0", "/", "Fleet:Pools:0:Cache:Paths:0 must be an absolute guest path")]
    [InlineData("Cache:Paths:0", "/home/runner/../etc", "Fleet:Pools:0:Cache:Paths:0 must be an absolute guest path")]
    [InlineData("Cache:Paths:0", "/a,b", "Fleet:Pools:0:Cache:Paths:0 must be an absolute guest path")]
    [InlineData("Cache:Paths:1", "/home/runner/.cache/go-build", "Fleet:Pools:0:Cache:Paths:1 '/home/runner/.cache/go-build' is or holds another cached path")]
    [InlineData("Cache:MaxSizeMb", "0", "Fleet:Pools:0:Cache:MaxSizeMb must be at least 1")]
    [InlineData("Cache:MaxAge", "-00:01:00", "Fleet:Pools:0:Cache:MaxAge must be positive")]
    [InlineData("Provider", "hetzner", "Fleet:Pools:0:Cache is set, but provider 'hetzner' cannot mount warm caches")]
    [InlineData("Cache:Scope", "Pool", "Fleet:Pools:0:Cache:Repositories must list the repositories that may write to a pool-wide cache")]
    [InlineData("Cache:Repositories:0", "not a repository", "Fleet:Pools:0:Cache:Repositories:0 must be a repository")]
    public void A_bad_cache_setting_names_its_key(string key, string value, string expected)
    {
        var pool = new Dictionary<string, string?> { ["Cache:Paths:0"] = "/home/runner/.cache" };
        Assert.Empty(FleetFromKeys(pool));
        pool[key] = value;

        Assert.Contains(FleetFromKeys(pool), f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void A_cache_directory_overlayfs_cannot_name_stops_start_up()
    {
        var options = new FleetOptions { Pools = [GoodPool()], CacheDirectory = "/var/lib/run:fleet" };
        options.Pools[0].Cache.Paths.Add("/home/runner/.cache");

        Assert.Contains(Fleet(options), f => f.StartsWith("Fleet:CacheDirectory must be an absolute path without ',' or ':'", StringComparison.Ordinal));
        options.CacheDirectory = "/var/lib/runnerfleet/cache";
        Assert.Empty(Fleet(options));
    }

    /// <summary>github.com has no AAAA record: an IPv6-only server without NAT64 would never reach it.</summary>
    [Fact]
    [Trait("Category", "Hetzner")]
    public void An_ipv6_only_hetzner_pool_needs_dns64()
    {
        var pool = new Dictionary<string, string?>
        {
            ["Provider"] = "hetzner", ["Hetzner:ServerTypes:0"] = "cax21", ["Hetzner:Locations:0"] = "fsn1", ["Hetzner:EnableIpv4"] = "false",
        };

        Assert.Contains(FleetFromKeys(pool), f => f.StartsWith("Fleet:Pools:0:Hetzner:EnableIpv4 is false", StringComparison.Ordinal) && f.Contains("Dns64Servers", StringComparison.Ordinal));
        pool["Hetzner:Dns64Servers:0"] = "192.0.2.1";
        Assert.Contains(FleetFromKeys(pool), f => f.StartsWith("Fleet:Pools:0:Hetzner:Dns64Servers must list IPv6", StringComparison.Ordinal));
        pool["Hetzner:Dns64Servers:0"] = "2001:db8::64";
        Assert.Empty(FleetFromKeys(pool));
    }

    /// <summary>A QEMU pool as an operator writes it; <c>/bin/sh</c> stands in for the emulator (only its presence is checked here).</summary>
    private static Dictionary<string, string?> QemuPool(string image) => new()
    {
        ["Provider"] = "qemu", ["Qemu:Image"] = image, ["Qemu:Arch"] = "x86_64", ["Qemu:Binary"] = "/bin/sh",
    };

    [Theory]
    [InlineData("Qemu:Image", "/nonexistent/runner.qcow2", "Fleet:Pools:0:Qemu:Image '/nonexistent/runner.qcow2' does not exist")]
    [InlineData("Qemu:Arch", "riscv64", "Fleet:Pools:0:Qemu:Arch must be x86_64 or aarch64")]
    [InlineData("Qemu:Accelerator", "whpx", "Fleet:Pools:0:Qemu:Accelerator must be auto, kvm, hvf or tcg")]
    [InlineData("Qemu:Binary", "/nonexistent/qemu-system-x86_64", "Fleet:Pools:0:Qemu:Binary '/nonexistent/qemu-system-x86_64' was not found")]
    [InlineData("Qemu:Network", "bridge", "Fleet:Pools:0:Qemu:Network must be restricted or open")]
    [InlineData("Qemu:Initrd", "IMAGE", "Fleet:Pools:0:Qemu:Initrd needs Fleet:Pools:0:Qemu:Kernel")]
    public void A_bad_qemu_pool_setting_names_its_key(string key, string value, string expected)
    {
        var image = Path.GetTempFileName();
        try
        {
            var pool = QemuPool(image);
            Assert.Empty(FleetFromKeys(pool));
            pool[key] = value == "IMAGE" ? image : value;

            Assert.Contains(FleetFromKeys(pool), f => f.StartsWith(expected, StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(image);
        }
    }

    [Theory]
    [InlineData("hvf")]
    [InlineData("kvm")]
    public void An_accelerator_that_is_not_there_stops_start_up_with_the_key(string accelerator)
    {
        // HVF is macOS's; KVM is Linux's and needs a guest of the host's architecture: aarch64 here on x86, x86_64 on ARM.
        var arch = QemuPoolSettings.HostArch == QemuPoolSettings.Aarch64 ? "x86_64" : "aarch64";
        var image = Path.GetTempFileName();
        try
        {
            var keys = new Dictionary<string, string?>
            {
                ["Fleet:Pools:0:Name"] = "vm", ["Fleet:Pools:0:Labels:0"] = "linux", ["Fleet:Pools:0:Provider"] = "qemu",
                ["Fleet:Pools:0:Qemu:Image"] = image, ["Fleet:Pools:0:Qemu:Arch"] = arch, ["Fleet:Pools:0:Qemu:Binary"] = "/bin/sh",
                ["Fleet:Pools:0:Qemu:Accelerator"] = accelerator,
            };
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(keys).Build();
            var fleet = Microsoft.Extensions.Options.Options.Create(configuration.GetSection("Fleet").Get<FleetOptions>()!);
            var catalog = new PoolCatalog(fleet, Microsoft.Extensions.Options.Options.Create(new GitHubOptions()), configuration, s_plugins.GetServices<ProviderPlugin>(), s_plugins.GetServices<ChannelPlugin>());
            var check = new QemuHostCheck(fleet, Microsoft.Extensions.Options.Options.Create(new QemuOptions()), catalog, new QemuHost(), Microsoft.Extensions.Logging.Abstractions.NullLogger<QemuHostCheck>.Instance);

            var e = Assert.ThrowsAny<Microsoft.Extensions.Options.OptionsValidationException>(() => check.StartAsync(TestContext.Current.CancellationToken).GetAwaiter().GetResult());

            Assert.StartsWith($"Fleet:Pools:0:Qemu:Accelerator {accelerator} is not available here", Assert.Single(e.Failures), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(image);
        }
    }

    [Fact]
    public void Bad_qemu_host_settings_name_their_keys()
    {
        var failures = new QemuOptionsValidator().Validate(null, new QemuOptions { MaxVms = 0, StateDirectory = "relative", AllowedHostPorts = [0], ForwardCommand = "nc 127.0.0.1 8080" }).Failures!;

        foreach (var key in new[] { "Qemu:MaxVms", "Qemu:StateDirectory", "Qemu:AllowedHostPorts", "Qemu:ForwardCommand" })
        {
            Assert.Contains(failures, f => f.StartsWith(key, StringComparison.Ordinal));
        }

        Assert.True(new QemuOptionsValidator().Validate(null, new QemuOptions()).Succeeded);
    }

    [Fact]
    public void A_vms_command_line_holds_no_secret_and_a_restricted_network_reaches_only_the_allowed_ports()
    {
        var settings = new QemuPoolSettings { Image = "/images/base.qcow2", Arch = "aarch64", Kernel = "/images/vmlinuz", Append = "quiet" };
        var options = new QemuOptions { AllowedHostPorts = [8443] };

        var args = QemuProvider.Arguments(settings, "tcg", "/state/fleet/runner-1", options);
        var line = string.Join(' ', args);

        Assert.Contains("file=/images/base.qcow2,if=virtio,format=qcow2,snapshot=on", line, StringComparison.Ordinal);
        Assert.Contains("user,id=net0,restrict=on,guestfwd=tcp:10.0.2.100:8443-cmd:busybox nc 127.0.0.1 8443", line, StringComparison.Ordinal);
        Assert.Equal(1, args.Count(a => a.Contains("guestfwd", StringComparison.Ordinal)));
        Assert.Contains("name=opt/runnerfleet/runner,file=/state/fleet/runner-1/runner.env", line, StringComparison.Ordinal);
        Assert.Contains("console=ttyAMA0 panic=-1 quiet", line, StringComparison.Ordinal);
        Assert.Contains("-machine virt", line, StringComparison.Ordinal);
        Assert.DoesNotContain("jitconfig", line, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("user,id=net0", QemuProvider.Network(new QemuPoolSettings { Network = "open" }, options));
    }

    [Fact]
    public void Known_provider_and_channel_names_come_from_what_is_registered()
    {
        var failure = Assert.Single(FleetFromKeys(new() { ["Provider"] = "kubernetes" }));

        Assert.Contains("docker, hetzner", failure, StringComparison.Ordinal);
        Assert.Empty(FleetFromKeys(new() { ["Discovery"] = "scaleset", ["Docker:Platform"] = "linux/arm64" }));
    }

    [Fact]
    public void A_good_fleet_passes() => Assert.Empty(Fleet(new FleetOptions { Pools = [GoodPool()] }));

    [Theory]
    [InlineData("Provider", "Fleet:Pools:0:Provider")]
    [InlineData("Labels", "Fleet:Pools:0:Labels")]
    [InlineData("MinIdle", "Fleet:Pools:0:MinIdle")]
    [InlineData("MaxRunners", "Fleet:Pools:0:MaxRunners")]
    [InlineData("Name", "Fleet:Pools:0:Name")]
    [InlineData("BootTimeout", "Fleet:Pools:0:BootTimeout")]
    [InlineData("DailyBudget", "Fleet:Pools:0:DailyBudget")]
    public void A_bad_pool_names_its_key(string field, string key)
    {
        var pool = GoodPool();
        switch (field)
        {
            case "Provider": pool.Provider = "kubernetes"; break;
            case "Labels": pool.Labels = []; break;
            case "MinIdle": pool.MinIdle = 5; break;
            case "MaxRunners": pool.MaxRunners = 0; break;
            case "Name": pool.Name = "bad name!"; break;
            case "BootTimeout": pool.BootTimeout = TimeSpan.Zero; break;
            case "DailyBudget": pool.DailyBudget = 0; break;
        }

        Assert.Contains(Fleet(new FleetOptions { Pools = [pool] }), f => f.StartsWith(key, StringComparison.Ordinal));
    }

    [Fact]
    public void A_hetzner_pool_without_a_hetzner_token_names_the_key()
    {
        var pool = new PoolOptions { Name = "cax", Labels = ["arm64"], Provider = "hetzner" };
        var validator = new HetznerOptionsValidator(Microsoft.Extensions.Options.Options.Create(new FleetOptions { Pools = [pool] }));

        Assert.Contains(validator.Validate(null, new HetznerOptions()).Failures!, f => f.StartsWith("Hetzner:Token", StringComparison.Ordinal));
        Assert.Contains(new DockerOptionsValidator().Validate(null, new DockerOptions { AllowedHostPorts = [70000] }).Failures!, f => f.StartsWith("Docker:AllowedHostPorts:0", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("00:10:01")]
    [InlineData("00:00:00")]
    public void A_hetzner_server_list_age_out_of_range_names_the_key(string age)
    {
        var validator = new HetznerOptionsValidator(Microsoft.Extensions.Options.Options.Create(new FleetOptions()));
        var options = new HetznerOptions { ServerListMaxAge = TimeSpan.Parse(age, System.Globalization.CultureInfo.InvariantCulture) };

        Assert.Contains(validator.Validate(null, options).Failures!, f => f.StartsWith("Hetzner:ServerListMaxAge", StringComparison.Ordinal));
        Assert.True(validator.Validate(null, new HetznerOptions()).Succeeded);
    }

    [Fact]
    public void A_fleet_budget_must_be_positive() =>
        Assert.Contains(Fleet(new FleetOptions { Pools = [GoodPool()], DailyBudget = -1 }), f => f.StartsWith("Fleet:DailyBudget", StringComparison.Ordinal));

    [Fact]
    public void No_pools_is_an_error() => Assert.Contains(Fleet(new FleetOptions()), f => f.StartsWith("Fleet:Pools", StringComparison.Ordinal));

    [Fact]
    public void Duplicate_pool_names_are_an_error() =>
        Assert.Contains(Fleet(new FleetOptions { Pools = [GoodPool("a"), GoodPool("a")] }), f => f.StartsWith("Fleet:Pools:1:Name", StringComparison.Ordinal));

    [Fact]
    public void Overflow_must_name_a_pool_and_must_not_cycle()
    {
        var a = GoodPool("a");
        a.Overflow = "nowhere";
        Assert.Contains(Fleet(new FleetOptions { Pools = [a] }), f => f.StartsWith("Fleet:Pools:0:Overflow", StringComparison.Ordinal));

        var x = GoodPool("x");
        var y = GoodPool("y");
        var z = GoodPool("z");
        x.Overflow = "y";
        y.Overflow = "z";
        z.Overflow = "x";
        Assert.Contains(Fleet(new FleetOptions { Pools = [x, y, z] }), f => f.Contains("cycle", StringComparison.Ordinal));
    }

    [Fact]
    public void GitHub_needs_exactly_one_way_to_authenticate_and_something_to_watch()
    {
        var v = new GitHubOptionsValidator();

        Assert.Contains(v.Validate(null, new GitHubOptions { Repositories = ["o/r"] }).Failures!, f => f.StartsWith("GitHub:Token", StringComparison.Ordinal));
        Assert.Contains(v.Validate(null, new GitHubOptions { Token = "t" }).Failures!, f => f.StartsWith("GitHub:Repositories", StringComparison.Ordinal));
        Assert.Contains(v.Validate(null, new GitHubOptions { Token = "t", Repositories = ["just-a-name"] }).Failures!, f => f.StartsWith("GitHub:Repositories:0", StringComparison.Ordinal));
        Assert.Contains(v.Validate(null, new GitHubOptions { Repositories = ["o/r"], App = new GitHubAppOptions { Id = "1" } }).Failures!, f => f.StartsWith("GitHub:App:InstallationId", StringComparison.Ordinal));
        Assert.Contains(v.Validate(null, new GitHubOptions { Repositories = ["o/r"], App = new GitHubAppOptions { Id = "1", InstallationId = 2, PrivateKeyPath = "/nonexistent.pem" } }).Failures!, f => f.StartsWith("GitHub:App:PrivateKeyPath", StringComparison.Ordinal));
        Assert.True(v.Validate(null, new GitHubOptions { Token = "t", Organizations = ["octo"] }).Succeeded);
    }

    [Fact]
    public void Secrets_never_appear_in_validation_messages()
    {
        var failures = new GitHubOptionsValidator().Validate(null, new GitHubOptions { Token = "ghp_supersecret", App = new GitHubAppOptions { Id = "1" }, Repositories = ["o/r"] }).Failures!;

        Assert.DoesNotContain(failures, f => f.Contains("supersecret", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("https://api.github.com", "https://github.com/")]
    [InlineData("https://ghe.example.com/api/v3", "https://ghe.example.com/")]
    [InlineData("http://127.0.0.1:5080/", "http://127.0.0.1:5080/")]
    public void The_registration_url_is_derived_from_the_api_url(string api, string web) =>
        Assert.Equal(new Uri(web), new GitHubOptions { ApiUrl = new Uri(api) }.EffectiveWebUrl);

    [Fact]
    public void Docker_endpoints_are_checked() =>
        Assert.Contains(new DockerOptionsValidator().Validate(null, new DockerOptions { Endpoints = [new DockerEndpointOptions { Name = "a", Uri = new Uri("ftp://x"), MaxRunners = 0 }] }).Failures!,
            f => f.StartsWith("Docker:Endpoints:0:Uri", StringComparison.Ordinal));

    [Fact]
    public void An_unknown_store_or_a_postgres_store_without_a_connection_string_stops_start_up_naming_the_key()
    {
        var unknown = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            RunnerFleet.Controller.Hosting.ControllerHost.Build([], new Dictionary<string, string?> { ["Store:Provider"] = "mysql" }));
        var noConnection = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            RunnerFleet.Controller.Hosting.ControllerHost.Build([], new Dictionary<string, string?> { ["Store:Provider"] = "postgres" }));

        Assert.StartsWith("Store:Provider 'mysql'", Assert.Single(unknown.Failures), StringComparison.Ordinal);
        Assert.StartsWith("ConnectionStrings:Fleet", Assert.Single(noConnection.Failures), StringComparison.Ordinal);
    }
}
