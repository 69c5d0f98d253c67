using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using RunnerFleet.Controller.Providers.Hetzner;

namespace RunnerFleet.Controller.Tests.Providers;

/// <summary>
/// The client's models read Hetzner's response bodies: the project's own fixtures (TestData/hetzner/responses.json),
/// written to the shapes of Hetzner's API reference (docs.hetzner.cloud) with the fields it documents, not only
/// those the models read, so a model that misnames or mistypes one fails here.
/// </summary>
public sealed class HetznerModelsTests
{
    private static readonly Lazy<JsonNode> s_responses = new(() => JsonNode.Parse(File.ReadAllText(TestData.Path("hetzner", "responses.json")))!);

    private static JsonNode Body(string path, string method, string status) => s_responses.Value[$"{method.ToUpperInvariant()} {path} {status}"]!;

    private static T Example<T>(string path, string method, string status, JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(Body(path, method, status).ToJsonString(), type)!;

    private static T FromSchema<T>(string path, string method, JsonTypeInfo<T> type) => Example(path, method, "200", type);

    [Fact]
    public void Reads_the_create_server_example()
    {
        var r = Example("/servers", "post", "201", HetznerJsonContext.Default.HCreateServerResponse);

        Assert.Equal(42, r.Server.Id);
        Assert.Equal("my-server", r.Server.Name);
        Assert.Equal("initializing", r.Server.Status);
        Assert.Equal("cpx22", r.Server.ServerType.Name);
        Assert.Equal("x86", r.Server.ServerType.Architecture);
        Assert.Equal("fsn1", r.Server.Location.Name);
        Assert.Equal("1.2.3.4", r.Server.PublicNet!.Ipv4!.Ip);
        Assert.Equal(1.19m, r.Server.ServerType.HourlyGross("fsn1"));
        Assert.Null(r.Server.ServerType.HourlyGross("hel1"));
        Assert.Equal("create_server", r.Action.Command);
        Assert.Equal("running", r.Action.Status);
        Assert.False(r.Action.IsDone);
        Assert.NotNull(r.NextActions);
    }

    [Fact]
    public void Availability_is_read_per_location_and_deprecated_types_are_never_available()
    {
        var type = Example("/servers", "post", "201", HetznerJsonContext.Default.HCreateServerResponse).Server.ServerType;

        // The example lists fsn1 available and nbg1 unavailable, but marks the type deprecated.
        Assert.Equal([true, false], type.Locations!.Select(l => l.Available));
        Assert.False(type.IsAvailableIn("fsn1"));
        Assert.True((type with { Deprecated = false }).IsAvailableIn("fsn1"));
        Assert.False((type with { Deprecated = false }).IsAvailableIn("nbg1"));
    }

    [Theory]
    [InlineData("/servers/{id}/actions/poweroff", "stop_server")]
    [InlineData("/servers/{id}/actions/rebuild", "rebuild_server")]
    public void Reads_action_examples(string path, string command)
    {
        var a = Example(path, "post", "201", HetznerJsonContext.Default.HActionResponse).Action;

        Assert.Equal(command, a.Command);
        Assert.Contains(a.Status, new[] { "running", "success", "error" });
        Assert.NotEmpty(a.Resources!);
    }

    [Fact]
    public void Reads_the_error_example()
    {
        var e = Example("/servers", "get", "401", HetznerJsonContext.Default.HError);

        Assert.Equal("unauthorized", e.Error.Code);
        Assert.Equal("unable to authenticate", e.Error.Message);
    }

    [Fact]
    public void Reads_every_list_response_the_client_uses()
    {
        var types = FromSchema("/server_types", "get", HetznerJsonContext.Default.HServerTypesResponse);
        Assert.Equal("cpx22", types.ServerTypes[0].Name);
        Assert.Equal("x86", types.ServerTypes[0].Architecture);
        Assert.NotNull(types.Meta!.Pagination);

        var servers = FromSchema("/servers", "get", HetznerJsonContext.Default.HServersResponse);
        Assert.False(string.IsNullOrEmpty(servers.Servers[0].Name));
        Assert.NotNull(servers.Servers[0].Labels);

        Assert.NotEmpty(FromSchema("/actions", "get", HetznerJsonContext.Default.HActionsResponse).Actions);
        Assert.NotEmpty(FromSchema("/locations", "get", HetznerJsonContext.Default.HLocationsResponse).Locations);
        Assert.NotEmpty(FromSchema("/images", "get", HetznerJsonContext.Default.HImagesResponse).Images[0].Architecture);
        Assert.NotEmpty(FromSchema("/ssh_keys", "get", HetznerJsonContext.Default.HSshKeysResponse).SshKeys);
        Assert.NotEmpty(FromSchema("/firewalls", "get", HetznerJsonContext.Default.HFirewallsResponse).Firewalls);
    }

    [Fact]
    public void A_create_request_is_written_in_the_specs_field_names_without_datacenter()
    {
        var json = JsonSerializer.Serialize(new HCreateServerRequest("r1", "cax21", "ubuntu-24.04", "fsn1", true, null, [new HFirewallRef(7)], "#cloud-config",
            new Dictionary<string, string> { ["a"] = "b" }, new HPublicNetRequest(false, true), null), HetznerJsonContext.Default.HCreateServerRequest);
        var node = JsonNode.Parse(json)!.AsObject();
        var specFields = s_responses.Value["POST /servers request fields"]!.AsArray().Select(f => f!.GetValue<string>()).ToHashSet();

        Assert.All(node.Select(p => p.Key), k => Assert.Contains(k, specFields));
        Assert.False(node.ContainsKey("datacenter"));
        Assert.Equal(7, node["firewalls"]![0]!["firewall"]!.GetValue<long>());
        Assert.False(node["public_net"]!["enable_ipv4"]!.GetValue<bool>());
    }
}
