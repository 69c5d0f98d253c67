using System.Text.Json.Serialization;

namespace RunnerFleet.Controller.Providers.Hetzner;

// Hetzner Cloud API shapes (Hetzner's API reference; the tests read response bodies written to it, tests/RunnerFleet.Controller.Tests/TestData/hetzner/responses.json), only the fields RunnerFleet reads
// or writes. `datacenter` is gone from the API since 2026-07 and is not modelled.

internal sealed record HPrice(string Net, string Gross);

internal sealed record HServerTypePrice(string Location, HPrice PriceHourly, HPrice? PriceMonthly);

internal sealed record HServerTypeLocation(long Id, string Name, bool Available, bool Recommended);

internal sealed record HServerType(
    long Id, string Name, string? Description, double Cores, double Memory, double Disk, bool Deprecated,
    string Architecture, string? CpuType, IReadOnlyList<HServerTypePrice> Prices, IReadOnlyList<HServerTypeLocation>? Locations)
{
    /// <summary>Whether this type can be ordered in <paramref name="location"/> now (the API says so per location).</summary>
    public bool IsAvailableIn(string location) =>
        !Deprecated && (Locations?.Any(l => l.Name == location && l.Available) ?? Prices.Any(p => p.Location == location));

    public decimal? HourlyGross(string location) =>
        Prices.FirstOrDefault(p => p.Location == location)?.PriceHourly.Gross is { } gross
            && decimal.TryParse(gross, System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;
}

internal sealed record HLocation(long Id, string Name, string? Description, string? Country, string? City, string? NetworkZone);

internal sealed record HImage(long Id, string Type, string Status, string? Name, string? Description, string Architecture, IReadOnlyDictionary<string, string>? Labels);

internal sealed record HServerRef(long Id, string Name, string Architecture);

internal sealed record HIp(string Ip, bool Blocked);

internal sealed record HPublicNet(HIp? Ipv4, HIp? Ipv6);

internal sealed record HServer(
    long Id, string Name, string Status, DateTimeOffset Created, HPublicNet? PublicNet, HServerType ServerType, HLocation Location,
    HImage? Image, bool Locked, IReadOnlyDictionary<string, string> Labels);

internal sealed record HActionError(string Code, string Message);

internal sealed record HActionResource(long Id, string Type);

internal sealed record HAction(long Id, string Command, string Status, int Progress, DateTimeOffset Started, DateTimeOffset? Finished, IReadOnlyList<HActionResource>? Resources, HActionError? Error)
{
    public bool IsDone => Status is "success" or "error";
}

internal sealed record HSshKey(long Id, string Name, string Fingerprint, string PublicKey, IReadOnlyDictionary<string, string>? Labels);

internal sealed record HFirewallRule(string Direction, string Protocol, string? Port, IReadOnlyList<string>? SourceIps, IReadOnlyList<string>? DestinationIps, string? Description);

internal sealed record HFirewall(long Id, string Name, IReadOnlyList<HFirewallRule> Rules, IReadOnlyDictionary<string, string>? Labels);

internal sealed record HPagination(int Page, int PerPage, int? PreviousPage, int? NextPage, int? LastPage, int? TotalEntries);

internal sealed record HMeta(HPagination? Pagination);

internal sealed record HErrorBody(string Code, string Message);

internal sealed record HError(HErrorBody Error);

// ---------------------------------------------------------------- requests and envelopes

internal sealed record HPublicNetRequest(bool EnableIpv4, bool EnableIpv6);

internal sealed record HFirewallRef(long Firewall);

internal sealed record HCreateServerRequest(
    string Name, string ServerType, string Image, string? Location, bool StartAfterCreate, IReadOnlyList<string>? SshKeys,
    IReadOnlyList<HFirewallRef>? Firewalls, string? UserData, IReadOnlyDictionary<string, string> Labels, HPublicNetRequest? PublicNet, long? PlacementGroup);

internal sealed record HRebuildRequest(string Image, string? UserData);

internal sealed record HUpdateServerRequest(IReadOnlyDictionary<string, string> Labels);

internal sealed record HCreateFirewallRequest(string Name, IReadOnlyList<HFirewallRule> Rules, IReadOnlyDictionary<string, string>? Labels);

internal sealed record HCreateServerResponse(HServer Server, HAction Action, IReadOnlyList<HAction>? NextActions, string? RootPassword);

internal sealed record HServerResponse(HServer Server);

internal sealed record HServersResponse(IReadOnlyList<HServer> Servers, HMeta? Meta);

internal sealed record HActionResponse(HAction Action);

internal sealed record HActionsResponse(IReadOnlyList<HAction> Actions, HMeta? Meta);

internal sealed record HServerTypesResponse(IReadOnlyList<HServerType> ServerTypes, HMeta? Meta);

internal sealed record HLocationsResponse(IReadOnlyList<HLocation> Locations, HMeta? Meta);

internal sealed record HImagesResponse(IReadOnlyList<HImage> Images, HMeta? Meta);

internal sealed record HImageResponse(HImage Image);

internal sealed record HSshKeysResponse(IReadOnlyList<HSshKey> SshKeys, HMeta? Meta);

internal sealed record HFirewallsResponse(IReadOnlyList<HFirewall> Firewalls, HMeta? Meta);

internal sealed record HFirewallResponse(HFirewall Firewall, IReadOnlyList<HAction>? Actions);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HCreateServerRequest))]
[JsonSerializable(typeof(HRebuildRequest))]
[JsonSerializable(typeof(HUpdateServerRequest))]
[JsonSerializable(typeof(HCreateFirewallRequest))]
[JsonSerializable(typeof(HCreateServerResponse))]
[JsonSerializable(typeof(HServerResponse))]
[JsonSerializable(typeof(HServersResponse))]
[JsonSerializable(typeof(HActionResponse))]
[JsonSerializable(typeof(HActionsResponse))]
[JsonSerializable(typeof(HServerTypesResponse))]
[JsonSerializable(typeof(HLocationsResponse))]
[JsonSerializable(typeof(HImagesResponse))]
[JsonSerializable(typeof(HImageResponse))]
[JsonSerializable(typeof(HSshKeysResponse))]
[JsonSerializable(typeof(HFirewallsResponse))]
[JsonSerializable(typeof(HFirewallResponse))]
[JsonSerializable(typeof(HError))]
internal sealed partial class HetznerJsonContext : JsonSerializerContext;
