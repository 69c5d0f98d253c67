using Microsoft.Extensions.Configuration;

namespace RunnerFleet.AppHost;

/// <summary>The controller against a real GitHub: its secrets as Aspire parameters, its pools from the AppHost's configuration.</summary>
internal static class RealFleet
{
    public static IResourceBuilder<ProjectResource> AddController(IDistributedApplicationBuilder builder, IConfigurationSection options)
    {
        var controller = builder.AddProject<Projects.RunnerFleet_Controller>("controller")
            .WithEnvironment("GitHub__WebhookSecret", builder.AddParameter("github-webhook-secret", secret: true))
            .WithEnvironment("GitHub__Repositories__0", builder.AddParameter("github-repositories"));

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

        return controller;
    }
}
