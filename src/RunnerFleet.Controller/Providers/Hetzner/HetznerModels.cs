using System.Text.Json.Serialization;

namespace RunnerFleet.Controller.Providers.Hetzner;

// Hetzner Cloud API shapes (shared/reference/hetzner/cloud.spec.json), only the fields RunnerFleet reads
// or writes. `datacenter` is gone from the API since 2026-07 and is not modelled.

public sealed record HPrice(string Net, string Gross);

public sealed record HServerTypePrice(string Location, HPrice PriceHourly, HPrice? PriceMonthly);

public sealed record HServerTypeLocation(long Id, string Name, bool Available, bool Recommended);

public sealed record HServerType(
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

public sealed record HLocation(long Id, string Name, string? Description, string? Country, string? City, string? NetworkZone);

public sealed record HImage(long Id, string Type, string Status, string? Name, string? Description, string Architecture, IReadOnlyDictionary<string, string>? Labels);

public sealed record HServerRef(long Id, string Name, string Architecture);

public sealed record HIp(string Ip, bool Blocked);

public sealed record HPublicNet(HIp? Ipv4, HIp? Ipv6);

public sealed record HServer(
    long Id, string Name, string Status, DateTimeOffset Created, HPublicNet? PublicNet, HServerType ServerType, HLocation Location,
    HImage? Image, bool Locked, IReadOnlyDictionary<string, string> Labels);

public sealed record HActionError(string Code, string Message);

public sealed record HActionResource(long Id, string Type);

public sealed record HAction(long Id, string Command, string Status, int Progress, DateTimeOffset Started, DateTimeOffset? Finished, IReadOnlyList<HActionResource>? Resources, HActionError? Error)
{
    public bool IsDone => Status is "success" or "error";
}

public sealed record HSshKey(long Id, string Name, string Fingerprint, string PublicKey, IReadOnlyDictionary<string, string>? Labels);

public sealed record HFirewallRule(string Direction, string Protocol, string? Port, IReadOnlyList<string>? SourceIps, IReadOnlyList<string>? DestinationIps, string? Description);

public sealed record HFirewall(long Id, string Name, IReadOnlyList<HFirewallRule> Rules, IReadOnlyDictionary<string, string>? Labels);

public sealed record HPagination(int Page, int PerPage, int? PreviousPage, int? NextPage, int? LastPage, int? TotalEntries);

public sealed record HMeta(HPagination? Pagination);

public sealed record HErrorBody(string Code, string Message);

public sealed record HError(HErrorBody Error);

// ---------------------------------------------------------------- requests and envelopes

public sealed record HPublicNetRequest(bool EnableIpv4, bool EnableIpv6);

public sealed record HFirewallRef(long Firewall);

public sealed record HCreateServerRequest(
    string Name, string ServerType, string Image, string? Location, bool StartAfterCreate, IReadOnlyList<string>? SshKeys,
    IReadOnlyList<HFirewallRef>? Firewalls, string? UserData, IReadOnlyDictionary<string, string> Labels, HPublicNetRequest? PublicNet, long? PlacementGroup);

public sealed record HRebuildRequest(string Image);

public sealed record HCreateFirewallRequest(string Name, IReadOnlyList<HFirewallRule> Rules, IReadOnlyDictionary<string, string>? Labels);

public sealed record HCreateServerResponse(HServer Server, HAction Action, IReadOnlyList<HAction>? NextActions, string? RootPassword);

public sealed record HServerResponse(HServer Server);

public sealed record HServersResponse(IReadOnlyList<HServer> Servers, HMeta? Meta);

public sealed record HActionResponse(HAction Action);

public sealed record HActionsResponse(IReadOnlyList<HAction> Actions, HMeta? Meta);

public sealed record HServerTypesResponse(IReadOnlyList<HServerType> ServerTypes, HMeta? Meta);

public sealed record HLocationsResponse(IReadOnlyList<HLocation> Locations, HMeta? Meta);

public sealed record HImagesResponse(IReadOnlyList<HImage> Images, HMeta? Meta);

public sealed record HSshKeysResponse(IReadOnlyList<HSshKey> SshKeys, HMeta? Meta);

public sealed record HFirewallsResponse(IReadOnlyList<HFirewall> Firewalls, HMeta? Meta);

public sealed record HFirewallResponse(HFirewall Firewall, IReadOnlyList<HAction>? Actions);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HCreateServerRequest))]
[JsonSerializable(typeof(HRebuildRequest))]
[JsonSerializable(typeof(HCreateFirewallRequest))]
[JsonSerializable(typeof(HCreateServerResponse))]
[JsonSerializable(typeof(HServerResponse))]
[JsonSerializable(typeof(HServersResponse))]
[JsonSerializable(typeof(HActionResponse))]
[JsonSerializable(typeof(HActionsResponse))]
[JsonSerializable(typeof(HServerTypesResponse))]
[JsonSerializable(typeof(HLocationsResponse))]
[JsonSerializable(typeof(HImagesResponse))]
[JsonSerializable(typeof(HSshKeysResponse))]
[JsonSerializable(typeof(HFirewallsResponse))]
[JsonSerializable(typeof(HFirewallResponse))]
[JsonSerializable(typeof(HError))]
public sealed partial class HetznerJsonContext : JsonSerializerContext;
