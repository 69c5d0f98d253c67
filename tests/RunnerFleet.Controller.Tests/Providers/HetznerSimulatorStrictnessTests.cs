using Microsoft.Extensions.Time.Testing;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.Controller.Tests.Providers;

/// <summary>The Hetzner simulator refuses what Hetzner refuses (each rule cites its source beside it in the simulator).</summary>
[Trait("Category", "Hetzner")]
public sealed class HetznerSimulatorStrictnessTests : IDisposable
{
    private readonly HttpClient _http = new();
    private readonly HetznerSimulator _sim;
    private static readonly Dictionary<string, string> s_labels = new() { ["runnerfleet.fleet"] = "f" };

    private readonly FakeTimeProvider _time = new();

    public HetznerSimulatorStrictnessTests() => _sim = new HetznerSimulator(new HetznerSimulatorOptions(), _time, _http);

    public void Dispose() => _http.Dispose();

    private HetznerSimulator.CreateResult Create(string name = "f-cax-0123456789", string type = "cax21", string image = "161547270", string location = "fsn1", Dictionary<string, string>? labels = null) =>
        _sim.CreateServer(name, type, image, location, labels ?? s_labels, null, true, []);

    [Theory]
    [InlineData("a-name-that-is-far-too-long-for-a-hostname-label-of-rfc-1123-ok-x")]
    [InlineData("under_score")]
    [InlineData("-leading")]
    [InlineData("")]
    public void A_name_that_is_not_an_rfc_1123_hostname_is_refused(string name)
    {
        var result = Create(name);
        Assert.Equal("invalid_input", result.ErrorCode);
        Assert.Contains("'name'", result.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_63_character_name_is_a_hostname() => Assert.Null(Create(new string('a', 63)).ErrorCode);

    [Fact]
    public void A_label_value_over_63_characters_is_refused()
    {
        var result = Create(labels: new() { ["runnerfleet.runner"] = new string('a', 64) });
        Assert.Equal(("invalid_input", true), (result.ErrorCode, result.ErrorMessage!.Contains("'labels'", StringComparison.Ordinal)));
        Assert.Null(Create(labels: new() { ["runnerfleet.runner"] = new string('a', 63) }).ErrorCode);
    }

    [Fact]
    public void An_image_name_means_its_x86_image_so_an_arm_type_needs_the_id()
    {
        var byName = Create(image: "ubuntu-24.04");
        Assert.Equal("invalid_input", byName.ErrorCode);
        Assert.Contains("does not match the architecture", byName.ErrorMessage, StringComparison.Ordinal);
        Assert.Null(Create(image: "161547270").ErrorCode);
        Assert.Null(Create(name: "x86-box", type: "cpx22", image: "ubuntu-24.04").ErrorCode);
    }

    [Fact]
    public void Placement_errors_and_unsupported_locations_are_refused_on_demand()
    {
        _sim.RefuseCreates("cax21", "fsn1", SimCreateRefusal.PlacementError);
        _sim.RefuseCreates("cax21", "nbg1", SimCreateRefusal.UnsupportedLocation);

        Assert.Equal("placement_error", Create().ErrorCode);
        var unsupported = Create(location: "nbg1");
        Assert.Equal("invalid_input", unsupported.ErrorCode);
        Assert.Contains("unsupported location for server type", unsupported.ErrorMessage, StringComparison.Ordinal);
        Assert.True(_sim.IsAvailable("cax21", "fsn1"));
    }

    [Fact]
    public void A_rebuild_locks_the_server_wipes_its_disk_keeps_its_user_data_unless_given_and_sets_a_root_password_without_ssh_keys()
    {
        var server = Create().Server!;
        Assert.Equal("locked", _sim.RebuildServer(server.Id, "161547270", null).ErrorCode);
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal("running", _sim.GetServer(server.Id)!.Status);
        server.Disk.Add("/home/runner/_work/job-1");

        var rebuilt = _sim.RebuildServer(server.Id, "161547270", "#cloud-config\n");

        Assert.Null(rebuilt.ErrorCode);
        Assert.Equal("rebuild_server", rebuilt.Action!.Command);
        Assert.NotNull(rebuilt.RootPassword);
        Assert.Equal("rebuilding", _sim.GetServer(server.Id)!.Status);
        Assert.Empty(_sim.GetServer(server.Id)!.Disk);
        Assert.Equal("#cloud-config\n", _sim.GetServer(server.Id)!.UserData);
        Assert.Equal("locked", _sim.DeleteServer(server.Id).ErrorCode);
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(("success", "running"), (_sim.GetAction(rebuilt.Action.Id)!.Status, _sim.GetServer(server.Id)!.Status));

        server.HasSshKeys = true;
        var again = _sim.RebuildServer(server.Id, "161547270", null);
        Assert.Null(again.RootPassword);
        Assert.Equal("#cloud-config\n", _sim.GetServer(server.Id)!.UserData);
    }

    [Fact]
    public void A_rebuild_from_an_image_of_another_architecture_or_with_too_much_user_data_is_refused()
    {
        var server = Create().Server!;
        _time.Advance(TimeSpan.FromSeconds(3));

        var byName = _sim.RebuildServer(server.Id, "ubuntu-24.04", null);
        Assert.Equal("invalid_input", byName.ErrorCode);
        Assert.Contains("does not match the architecture", byName.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("invalid_input", _sim.RebuildServer(server.Id, "161547270", new string('x', (32 * 1024) + 1)).ErrorCode);
        Assert.Equal("invalid_input", _sim.RebuildServer(server.Id, "999", null).ErrorCode);
        Assert.Equal("not_found", _sim.RebuildServer(4242, "161547270", null).ErrorCode);
        Assert.Equal(0, _sim.GetServer(server.Id)!.Rebuilds);
    }

    [Fact]
    public void Updating_a_servers_labels_replaces_the_whole_set_and_checks_them()
    {
        var server = Create().Server!;

        Assert.Equal("invalid_input", _sim.UpdateServer(server.Id, null, new Dictionary<string, string> { ["bad key!"] = "x" }).ErrorCode);
        var (updated, code, _) = _sim.UpdateServer(server.Id, null, new Dictionary<string, string> { ["runnerfleet.runner"] = "f-cax-next" });

        Assert.Null(code);
        Assert.Equal(["runnerfleet.runner"], updated!.Labels.Keys);
    }
}
