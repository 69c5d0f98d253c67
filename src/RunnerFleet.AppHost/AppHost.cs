// The Aspire AppHost: the controller with its secrets as parameters.
// Set the parameters in the AppHost's user secrets, e.g.
//   dotnet user-secrets set "Parameters:github-token" "<token>" --project src/RunnerFleet.AppHost
var builder = DistributedApplication.CreateBuilder(args);

var githubToken = builder.AddParameter("github-token", secret: true);
var webhookSecret = builder.AddParameter("github-webhook-secret", secret: true);
var repositories = builder.AddParameter("github-repositories");

var controller = builder.AddProject<Projects.RunnerFleet_Controller>("controller")
    .WithEnvironment("GitHub__Token", githubToken)
    .WithEnvironment("GitHub__WebhookSecret", webhookSecret)
    .WithEnvironment("GitHub__Repositories__0", repositories)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();

builder.Build().Run();
