// The Aspire AppHost. With no configuration it runs the sandbox: the GitHub and Hetzner simulators with a
// stream of synthetic jobs, and the controller with simulated runners, under the dashboard:
//   dotnet run --project src/RunnerFleet.AppHost
// Real mode: RunnerFleet:Mode=real, with the secrets as parameters (user secrets, e.g.
//   dotnet user-secrets set "Parameters:github-token" "<token>" --project src/RunnerFleet.AppHost)
// and the pools as the controller's own keys under RunnerFleet:Controller (e.g. RunnerFleet:Controller:Fleet:Pools:0:Name).
// Options (AppHost configuration: appsettings.json, user secrets, command line):
//   RunnerFleet:Mode = sandbox | real   sandbox (default) or a real GitHub
//   RunnerFleet:GitHubApp = true        authenticate as a GitHub App (github-app-id, -installation-id, -private-key)
//   RunnerFleet:Hetzner = true          pass a Hetzner Cloud token (hetzner-token) for hetzner pools
//   RunnerFleet:Postgres = true         a PostgreSQL resource for the store (Store:Provider=postgres; see README)
//   RunnerFleet:Controller:<key>        any controller setting (Fleet:…, GitHub:…, Docker:…), passed as its environment
using Microsoft.Extensions.Configuration;
using RunnerFleet.AppHost;

var builder = DistributedApplication.CreateBuilder(args);
var options = builder.Configuration.GetSection("RunnerFleet");
var adminToken = builder.AddParameter("admin-token", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);
var real = string.Equals(options["Mode"], "real", StringComparison.OrdinalIgnoreCase);

var controller = real ? RealFleet.AddController(builder, options) : SandboxFleet.AddController(builder);
controller
    .WithEnvironment("Admin__Token", adminToken)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();

// Any controller key given to the AppHost goes to the controller as it is (real pools; a setting to try in the sandbox).
foreach (var (key, value) in options.GetSection("Controller").AsEnumerable(makePathsRelative: true).Where(kv => kv.Value is not null))
{
    controller.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
}

if (options.GetValue<bool>("Postgres"))
{
    // The database is "runnerfleet" in the resource "fleet-db": "fleet" names the fleet resource.
    var store = builder.AddPostgres("postgres").WithDataVolume().AddDatabase("fleet-db", "runnerfleet");
    controller.WithReference(store, "Fleet").WithEnvironment("Store__Provider", "postgres").WaitFor(store);
}

var pools = PoolNames(options.GetSection("Controller:Fleet:Pools"), real ? [] : SandboxFleet.Pools);
builder.AddRunnerFleet("fleet", controller, adminToken, pools);

builder.Build().Run();

static string[] PoolNames(IConfigurationSection configured, IReadOnlyList<string> defaults)
{
    var names = configured.GetChildren().Select(p => p["Name"]).OfType<string>().ToArray();
    return names.Length > 0 ? names : [.. defaults];
}
