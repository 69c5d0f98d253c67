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

    public HetznerSimulatorStrictnessTests() => _sim = new HetznerSimulator(new HetznerSimulatorOptions(), new FakeTimeProvider(), _http);

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
}
