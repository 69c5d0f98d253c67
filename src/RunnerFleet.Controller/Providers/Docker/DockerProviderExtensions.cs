using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Docker;

/// <summary>Plugs the Docker provider in: <c>Provider: docker</c> pools, <c>Fleet:Pools:N:Docker</c>, the <c>Docker</c> section.</summary>
internal static class DockerProviderExtensions
{
    public static IServiceCollection AddDockerProvider(this IServiceCollection services)
    {
        services.AddOptions<DockerOptions>().BindConfiguration(DockerOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DockerOptions>, DockerOptionsValidator>();
        services.AddSingleton<HostFirewall>();
        services.AddHostedService<DockerPlatformCheck>();
        services.AddHostedService<FirewallKeeper>();
        return services.AddRunnerProvider<DockerProvider, DockerPoolSettings>(DockerProvider.KindName, "Docker", new ProviderTraits { MountsCaches = true }, DockerPoolSettings.Validate, DockerPoolSettings.Describe);
    }
}
