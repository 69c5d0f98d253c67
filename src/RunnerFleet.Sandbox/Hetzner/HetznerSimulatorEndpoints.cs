using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RunnerFleet.Sandbox.Hetzner;

/// <summary>
/// Hetzner Cloud API under <c>/v1</c> in the spec's shapes (Hetzner's OpenAPI description, copied in tests/RunnerFleet.Controller.Tests/TestData/hetzner), and
/// its sandbox control under <c>/_sandbox/hetzner</c>.
/// </summary>
public static class HetznerSimulatorEndpoints
{
    private static readonly Dictionary<string, int> s_status = new()
    {
        ["json_error"] = 400, ["unauthorized"] = 401, ["forbidden"] = 403, ["resource_limit_exceeded"] = 403, ["not_found"] = 404,
        ["uniqueness_error"] = 409, ["conflict"] = 409, ["resource_unavailable"] = 412, ["invalid_input"] = 422, ["service_error"] = 422,
        ["locked"] = 423, ["protected"] = 423, ["rate_limit_exceeded"] = 429, ["server_error"] = 500, ["unavailable"] = 503, ["timeout"] = 504,
    };

    /// <summary>Auth, rate limit and injected faults for <c>/v1</c>.</summary>
    public static IApplicationBuilder UseHetznerSimulatorGate(this IApplicationBuilder app, HetznerSimulator sim) =>
        app.Use(async (ctx, next) =>
        {
            var path = ctx.Request.Path.Value ?? "/";
            if (!path.StartsWith("/v1/", StringComparison.Ordinal))
            {
                await next(ctx).ConfigureAwait(false);
                return;
            }

            sim.CountRequest(ctx.Request.Method, path[3..]);
            var (allowed, limit, remaining, reset) = sim.ChargeRequest();
            ctx.Response.Headers["RateLimit-Limit"] = limit.ToString(CultureInfo.InvariantCulture);
            ctx.Response.Headers["RateLimit-Remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
            ctx.Response.Headers["RateLimit-Reset"] = reset.ToString(CultureInfo.InvariantCulture);
            var auth = ctx.Request.Headers.Authorization.ToString();
            if (!auth.StartsWith("Bearer ", StringComparison.Ordinal) || !sim.Options.Tokens.Contains(auth[7..]))
            {
                await WriteError(ctx, "unauthorized", "unable to authenticate").ConfigureAwait(false);
                return;
            }

            if (!allowed)
            {
                await WriteError(ctx, "rate_limit_exceeded", "limit of 3600 requests per hour reached").ConfigureAwait(false);
                return;
            }

            if (sim.TakeFault(ctx.Request.Method, path[3..]) is { } fault)
            {
                if (fault.Code == SimHetznerFault.Slow)
                {
                    // The request is done at once but its answer comes late: a client that gives up first must
                    // find its work done when it retries (the "created, but the answer was lost" case).
                    var original = ctx.Response.Body;
                    using var held = new MemoryStream();
                    ctx.Response.Body = held;
                    ctx.RequestAborted = CancellationToken.None;
                    await next(ctx).ConfigureAwait(false);
                    await Task.Delay(fault.Delay, CancellationToken.None).ConfigureAwait(false);
                    ctx.Response.Body = original;
                    held.Position = 0;
                    try
                    {
                        await held.CopyToAsync(original, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
                    {
                        // The client has gone.
                    }

                    return;
                }

                if (fault.Code == "rate_limit_exceeded")
                {
                    sim.ExhaustRateLimit();
                    ctx.Response.Headers["RateLimit-Remaining"] = "0";
                    ctx.Response.Headers["RateLimit-Reset"] = DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                }

                await WriteError(ctx, fault.Code, $"injected {fault.Code}").ConfigureAwait(false);
                return;
            }

            await next(ctx).ConfigureAwait(false);
        });

    public static IEndpointRouteBuilder MapHetznerSimulator(this IEndpointRouteBuilder app, HetznerSimulator sim)
    {
        var v1 = app.MapGroup("/v1");

        v1.MapGet("/server_types", (HttpContext ctx, string? name) => Paged(ctx, "server_types",
            HetznerSimulator.ServerTypes.Where(t => name is null || t.Name == name).Select(t => ServerType(sim, t)).ToList()));

        v1.MapGet("/locations", (HttpContext ctx, string? name) => Paged(ctx, "locations",
            HetznerSimulator.Locations.Where(l => name is null || l.Name == name).Select(Location).ToList()));

        v1.MapGet("/images/{id:long}", (long id) => HetznerSimulator.Images.FirstOrDefault(i => i.Id == id) is { Name: not null } i
            ? Json(new JsonObject { ["image"] = Image(i.Id, i.Name, i.Architecture) })
            : ErrorResult("not_found", $"image with ID '{id}' not found"));

        v1.MapGet("/images", (HttpContext ctx, string? name, string? architecture) => Paged(ctx, "images",
            HetznerSimulator.Images.Where(i => (name is null || i.Name == name) && (architecture is null || i.Architecture == architecture)).Select(i => Image(i.Id, i.Name, i.Architecture)).ToList()));

        v1.MapGet("/servers", (HttpContext ctx, string? label_selector, string? name) =>
            Paged(ctx, "servers", sim.Read(() => sim.ListServers(label_selector, name).Select(s => Server(sim, s)).ToList())));

        v1.MapPost("/servers", async (HttpContext ctx) =>
        {
            var (body, invalid) = await BodyAsync(ctx).ConfigureAwait(false);
            if (invalid)
            {
                return ErrorResult("json_error", "invalid JSON");
            }

            var name = body?["name"]?.GetValue<string>();
            var type = body?["server_type"]?.GetValue<string>();
            var image = body?["image"]?.GetValue<string>();
            if (name is null || type is null || image is null)
            {
                return ErrorResult("invalid_input", "invalid input in fields 'name', 'server_type', 'image': are required");
            }

            var labels = body!["labels"]?.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? string.Empty) ?? [];
            var ipv4 = body["public_net"]?["enable_ipv4"]?.GetValue<bool>() ?? true;
            var firewalls = body["firewalls"]?.AsArray().Select(f => f!["firewall"]!.GetValue<long>()).ToList() ?? [];
            var result = sim.CreateServer(name, type, image, body["location"]?.GetValue<string>(), labels, body["user_data"]?.GetValue<string>(), ipv4, firewalls);
            if (result.ErrorCode is not null)
            {
                return ErrorResult(result.ErrorCode, result.ErrorMessage!);
            }

            result.Server!.HasSshKeys = body["ssh_keys"] is JsonArray { Count: > 0 };

            return Json(sim.Read(() => new JsonObject
            {
                ["server"] = Server(sim, result.Server!),
                ["action"] = Action(result.Action!),
                ["next_actions"] = new JsonArray(),
                ["root_password"] = null,
            }), 201);
        });

        v1.MapGet("/servers/{id:long}", (long id) => sim.GetServer(id) is { } s
            ? Json(sim.Read(() => new JsonObject { ["server"] = Server(sim, s) }))
            : ErrorResult("not_found", $"server with ID '{id}' not found"));

        v1.MapDelete("/servers/{id:long}", (long id) =>
        {
            var (action, error) = sim.DeleteServer(id);
            return action is null ? ErrorResult(error!, error == "locked" ? "server is locked" : $"server with ID '{id}' not found") : Json(sim.Read(() => new JsonObject { ["action"] = Action(action) }));
        });

        v1.MapPost("/servers/{id:long}/actions/poweroff", (long id) =>
        {
            var (action, error) = sim.PowerOff(id);
            return action is null ? ErrorResult(error!, error == "locked" ? "server is locked" : $"server with ID '{id}' not found") : Json(sim.Read(() => new JsonObject { ["action"] = Action(action) }), 201);
        });

        v1.MapPost("/servers/{id:long}/actions/rebuild", async (HttpContext ctx, long id) =>
        {
            var (body, invalid) = await BodyAsync(ctx).ConfigureAwait(false);
            if (invalid)
            {
                return ErrorResult("json_error", "invalid JSON");
            }

            // RebuildServerRequest: "image" is required (Hetzner's OpenAPI description).
            if (body?["image"]?.GetValue<string>() is not { } image)
            {
                return ErrorResult("invalid_input", "invalid input in field 'image': is required");
            }

            var result = sim.RebuildServer(id, image, body["user_data"]?.GetValue<string>());
            return result.Action is null
                ? ErrorResult(result.ErrorCode!, result.ErrorMessage!)
                : Json(sim.Read(() => new JsonObject { ["action"] = Action(result.Action), ["root_password"] = result.RootPassword }), 201);
        });

        v1.MapPut("/servers/{id:long}", async (HttpContext ctx, long id) =>
        {
            var (body, invalid) = await BodyAsync(ctx).ConfigureAwait(false);
            if (invalid)
            {
                return ErrorResult("json_error", "invalid JSON");
            }

            var labels = body?["labels"]?.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? string.Empty);
            var (server, code, message) = sim.UpdateServer(id, body?["name"]?.GetValue<string>(), labels);
            return server is null ? ErrorResult(code!, message!) : Json(sim.Read(() => new JsonObject { ["server"] = Server(sim, server) }));
        });

        v1.MapGet("/actions/{id:long}", (long id) => sim.GetAction(id) is { } a
            ? Json(sim.Read(() => new JsonObject { ["action"] = Action(a) }))
            : ErrorResult("not_found", $"action with ID '{id}' not found"));

        v1.MapGet("/actions", (HttpContext ctx) =>
        {
            var ids = ctx.Request.Query["id"].Select(v => long.TryParse(v, CultureInfo.InvariantCulture, out var i) ? i : -1).Where(i => i > 0).ToList();
            if (ids.Count == 0)
            {
                return ErrorResult("invalid_input", "invalid input in field 'id': is required");
            }

            // At most 25 ids per request: hcloud-go's action waiter asks in batches of 25 (ActionClient.WaitForFunc),
            // the most the API answers for one "id" filter; more is refused here rather than silently cut.
            if (ids.Count > 25)
            {
                return ErrorResult("invalid_input", "invalid input in field 'id': at most 25 ids");
            }

            return Paged(ctx, "actions", sim.Read(() => sim.GetActions(ids).Select(Action).ToList()));
        });

        v1.MapGet("/ssh_keys", (HttpContext ctx) => Paged(ctx, "ssh_keys", sim.SshKeys().Select(k => (JsonNode)new JsonObject
        {
            ["id"] = k.Id, ["name"] = k.Name, ["fingerprint"] = k.Fingerprint, ["public_key"] = k.PublicKey, ["labels"] = new JsonObject(), ["created"] = "2026-01-01T00:00:00Z",
        }).ToList()));

        v1.MapPost("/ssh_keys", async (HttpContext ctx) =>
        {
            var body = await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted).ConfigureAwait(false);
            var k = sim.AddSshKey(body?["name"]?.GetValue<string>() ?? "key", body?["public_key"]?.GetValue<string>() ?? string.Empty);
            return Json(new JsonObject { ["ssh_key"] = new JsonObject { ["id"] = k.Id, ["name"] = k.Name, ["fingerprint"] = k.Fingerprint, ["public_key"] = k.PublicKey, ["labels"] = new JsonObject(), ["created"] = "2026-01-01T00:00:00Z" } }, 201);
        });

        v1.MapGet("/firewalls", (HttpContext ctx, string? name) => Paged(ctx, "firewalls", sim.Firewalls().Where(f => name is null || f.Name == name).Select(f => (JsonNode)Firewall(f)).ToList()));

        v1.MapPost("/firewalls", async (HttpContext ctx) =>
        {
            var body = await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted).ConfigureAwait(false);
            var name = body?["name"]?.GetValue<string>();
            if (name is null)
            {
                return ErrorResult("invalid_input", "invalid input in field 'name': is required");
            }

            if (sim.Firewalls().Any(f => f.Name == name))
            {
                return ErrorResult("uniqueness_error", "firewall name is already used");
            }

            var fw = sim.AddFirewall(name, body?["rules"]?.DeepClone().AsArray() ?? [], body?["labels"]?.DeepClone().AsObject() ?? []);
            return Json(new JsonObject { ["firewall"] = Firewall(fw), ["actions"] = new JsonArray() }, 201);
        });

        // ---------------------------------------------------------------- sandbox control

        app.MapPost("/_sandbox/hetzner/availability", async (HttpContext ctx) =>
        {
            var body = await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted).ConfigureAwait(false);
            var type = body?["serverType"]?.GetValue<string>();
            var location = body?["location"]?.GetValue<string>();
            var available = body?["available"]?.GetValue<bool>() ?? true;
            foreach (var t in HetznerSimulator.ServerTypes.Where(t => type is null || t.Name == type))
            {
                foreach (var l in HetznerSimulator.Locations.Where(l => location is null || l.Name == location))
                {
                    sim.SetAvailability(t.Name, l.Name, available);
                }
            }

            return Results.NoContent();
        });

        app.MapPost("/_sandbox/hetzner/faults", async (HttpContext ctx) =>
        {
            var body = await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted).ConfigureAwait(false);
            var code = body?["code"]?.GetValue<string>();
            if (code == "action_error")
            {
                sim.FailNextCreateActions += body?["count"]?.GetValue<int>() ?? 1;
                return Results.NoContent();
            }

            if (code is null || (!s_status.ContainsKey(code) && code != SimHetznerFault.Slow))
            {
                return Results.BadRequest(new { error = $"code must be one of: action_error, slow, {string.Join(", ", s_status.Keys)}" });
            }

            sim.AddFault(new SimHetznerFault { PathPrefix = body?["pathPrefix"]?.GetValue<string>() ?? "/", Method = body?["method"]?.GetValue<string>(), Code = code, Count = body?["count"]?.GetValue<int>() ?? 1, Delay = TimeSpan.FromMilliseconds(body?["delayMs"]?.GetValue<int>() ?? 0) });
            return Results.NoContent();
        });

        app.MapGet("/_sandbox/hetzner/servers", () => Json(sim.Read(() => new JsonArray([.. sim.AllServers().Select(s =>
        {
            var o = Server(sim, s);
            o["deleted"] = s.Deleted;
            o["runner_error"] = s.RunnerError;
            return (JsonNode)o;
        })]))));

        return app;
    }

    // ---------------------------------------------------------------- shapes

    private static JsonObject ServerType(HetznerSimulator sim, SimServerType t) => new()
    {
        ["id"] = t.Id,
        ["name"] = t.Name,
        ["description"] = t.Description,
        ["cores"] = t.Cores,
        ["memory"] = t.Memory,
        ["disk"] = t.Disk,
        ["deprecated"] = false,
        ["prices"] = new JsonArray([.. HetznerSimulator.Locations.Select(l => (JsonNode)new JsonObject
        {
            ["location"] = l.Name,
            ["price_hourly"] = Price(t.HourlyGross),
            ["price_monthly"] = Price(Math.Round(t.HourlyGross * 730, 4)),
            ["included_traffic"] = 21990232555520,
            ["price_per_tb_traffic"] = Price(1m),
        })]),
        ["storage_type"] = "local",
        ["cpu_type"] = "shared",
        ["category"] = t.Architecture == "arm" ? "Cost-Optimized" : "Shared vCPU",
        ["architecture"] = t.Architecture,
        ["deprecation"] = null,
        ["locations"] = new JsonArray([.. HetznerSimulator.Locations.Select(l => (JsonNode)new JsonObject
        {
            ["id"] = l.Id,
            ["name"] = l.Name,
            ["deprecation"] = null,
            ["available"] = sim.IsAvailable(t.Name, l.Name),
            ["recommended"] = l.Name == "fsn1",
        })]),
    };

    private static JsonObject Price(decimal gross) => new()
    {
        ["net"] = (gross / 1.19m).ToString("0.0000000000", CultureInfo.InvariantCulture),
        ["gross"] = gross.ToString("0.0000000000000000", CultureInfo.InvariantCulture),
    };

    private static JsonNode Location((long Id, string Name, string City, string Country, string Zone) l) => new JsonObject
    {
        ["id"] = l.Id, ["name"] = l.Name, ["description"] = $"{l.City} DC Park 1", ["country"] = l.Country, ["city"] = l.City,
        ["latitude"] = 50.47612, ["longitude"] = 12.370071, ["network_zone"] = l.Zone,
    };

    private static JsonObject Image(long id, string name, string architecture) => new()
    {
        ["id"] = id, ["type"] = "system", ["status"] = "available", ["name"] = name, ["description"] = name, ["image_size"] = null, ["disk_size"] = 5,
        ["created"] = "2024-04-25T00:00:00Z", ["created_from"] = null, ["bound_to"] = null, ["os_flavor"] = name.Split('-')[0], ["os_version"] = name.Split('-').Last(),
        ["rapid_deploy"] = true, ["protection"] = new JsonObject { ["delete"] = false }, ["deprecated"] = null, ["deleted"] = null, ["labels"] = new JsonObject(), ["architecture"] = architecture,
    };

    private static JsonObject Server(HetznerSimulator sim, SimServer s) => new()
    {
        ["id"] = s.Id,
        ["name"] = s.Name,
        ["status"] = s.Status,
        ["created"] = s.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        ["public_net"] = new JsonObject
        {
            ["ipv4"] = s.Ipv4 ? new JsonObject { ["ip"] = $"203.0.113.{s.Id % 250}", ["blocked"] = false, ["dns_ptr"] = "static.example.com" } : null,
            ["ipv6"] = new JsonObject { ["ip"] = $"2001:db8:{s.Id % 9999}::/64", ["blocked"] = false, ["dns_ptr"] = new JsonArray() },
            ["floating_ips"] = new JsonArray(),
            ["firewalls"] = new JsonArray([.. s.Firewalls.Select(f => (JsonNode)new JsonObject { ["id"] = f, ["status"] = "applied" })]),
        },
        ["private_net"] = new JsonArray(),
        ["server_type"] = ServerType(sim, s.Type),
        ["location"] = Location(HetznerSimulator.Locations.First(l => l.Name == s.Location)),
        ["image"] = Image(s.ImageId, s.ImageName, s.Type.Architecture),
        ["iso"] = null,
        ["rescue_enabled"] = false,
        ["locked"] = s.Locked,
        ["backup_window"] = null,
        ["outgoing_traffic"] = 0,
        ["ingoing_traffic"] = 0,
        ["included_traffic"] = 21990232555520,
        ["protection"] = new JsonObject { ["delete"] = false, ["rebuild"] = false },
        ["labels"] = new JsonObject([.. s.Labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))]),
        ["volumes"] = new JsonArray(),
        ["load_balancers"] = new JsonArray(),
        ["primary_disk_size"] = s.Type.Disk,
        ["placement_group"] = null,
    };

    private static JsonNode Action(SimAction a) => new JsonObject
    {
        ["id"] = a.Id,
        ["command"] = a.Command,
        ["status"] = a.Status,
        ["started"] = a.Started.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        ["finished"] = a.Finished?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        ["progress"] = a.Progress,
        ["resources"] = new JsonArray(new JsonObject { ["id"] = a.ServerId, ["type"] = "server" }),
        ["error"] = a.Status == "error" && a.Error is { } e ? new JsonObject { ["code"] = e.Code, ["message"] = e.Message } : null,
    };

    private static JsonObject Firewall((long Id, string Name, JsonArray Rules, JsonObject Labels) f) => new()
    {
        ["id"] = f.Id, ["name"] = f.Name, ["labels"] = f.Labels.DeepClone(), ["created"] = "2026-01-01T00:00:00Z", ["rules"] = f.Rules.DeepClone(), ["applied_to"] = new JsonArray(),
    };

    private static IResult Paged(HttpContext ctx, string root, IReadOnlyList<JsonNode> items)
    {
        var perPage = int.TryParse(ctx.Request.Query["per_page"], CultureInfo.InvariantCulture, out var pp) ? Math.Clamp(pp, 1, 50) : 25;
        var page = int.TryParse(ctx.Request.Query["page"], CultureInfo.InvariantCulture, out var p) ? Math.Max(1, p) : 1;
        var last = Math.Max(1, (items.Count + perPage - 1) / perPage);
        return Json(new JsonObject
        {
            [root] = new JsonArray([.. items.Skip((page - 1) * perPage).Take(perPage).Select(i => i.DeepClone())]),
            ["meta"] = new JsonObject
            {
                ["pagination"] = new JsonObject
                {
                    ["page"] = page, ["per_page"] = perPage, ["previous_page"] = page > 1 ? page - 1 : null, ["next_page"] = page < last ? page + 1 : null,
                    ["last_page"] = last, ["total_entries"] = items.Count,
                },
            },
        });
    }

    private static IResult Json(JsonNode body, int status = 200) => Results.Text(body.ToJsonString(), "application/json", statusCode: status);

    /// <summary>The request's JSON body (null when empty), or invalid when it is not JSON (answered <c>json_error</c>).</summary>
    private static async Task<(JsonNode? Body, bool Invalid)> BodyAsync(HttpContext ctx)
    {
        try
        {
            return (await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted).ConfigureAwait(false), false);
        }
        catch (JsonException)
        {
            return (null, true);
        }
    }

    private static IResult ErrorResult(string code, string message) =>
        Json(new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message, ["details"] = null } }, s_status.GetValueOrDefault(code, 422));

    private static Task WriteError(HttpContext ctx, string code, string message)
    {
        ctx.Response.StatusCode = s_status.GetValueOrDefault(code, 422);
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message, ["details"] = null } }.ToJsonString());
    }
}
