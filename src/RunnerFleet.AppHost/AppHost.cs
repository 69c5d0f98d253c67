// The Aspire AppHost: the controller with its secrets as parameters, and the fleet as a resource of its own.
// Set the parameters in the AppHost's user secrets, e.g.
//   dotnet user-secrets set "Parameters:github-token" "<token>" --project src/RunnerFleet.AppHost
// Options (AppHost configuration, e.g. appsettings.json or user secrets):
//   RunnerFleet:GitHubApp = true      authenticate as a GitHub App (github-app-id, -installation-id, -private-key)
//   RunnerFleet:Hetzner = true        pass a Hetzner Cloud token (hetzner-token) for hetzner pools
//   RunnerFleet:Postgres = true       a PostgreSQL resource for the store (Store:Provider=postgres; see README)
//   RunnerFleet:Pools:0 = linux-x64   pools that get Drain/Resume commands on the fleet resource
using Microsoft.Extensions.Configuration;

var builder = DistributedApplication.CreateBuilder(args);
var options = builder.Configuration.GetSection("RunnerFleet");

var webhookSecret = builder.AddParameter("github-webhook-secret", secret: true);
var repositories = builder.AddParameter("github-repositories");
var adminToken = builder.AddParameter("admin-token", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);

var controller = builder.AddProject<Projects.RunnerFleet_Controller>("controller")
    .WithEnvironment("GitHub__WebhookSecret", webhookSecret)
    .WithEnvironment("GitHub__Repositories__0", repositories)
    .WithEnvironment("Admin__Token", adminToken)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();

if (options.GetValue<bool>("GitHubApp"))
{
    controller
        .WithEnvironment("GitHub__App__Id", builder.AddParameter("github-app-id"))
        .WithEnvironment("GitHub__App__InstallationId", builder.AddParameter("github-app-installation-id"))
        .WithEnvironment("GitHub__App__PrivateKey", builder.AddParameter("github-app-private-key", secret: true));
}
else
{
    controller.WithEnvironment("GitHub__Token", builder.AddParameter("github-token", secret: true));
}

if (options.GetValue<bool>("Hetzner"))
{
    controller.WithEnvironment("Hetzner__Token", builder.AddParameter("hetzner-token", secret: true));
}

if (options.GetValue<bool>("Postgres"))
{
    var store = builder.AddPostgres("postgres").WithDataVolume().AddDatabase("fleet");
    controller.WithReference(store, "Fleet").WithEnvironment("Store__Provider", "postgres").WaitFor(store);
}

builder.AddRunnerFleet("fleet", controller, adminToken, options.GetSection("Pools").Get<string[]>() ?? []);

builder.Build().Run();
