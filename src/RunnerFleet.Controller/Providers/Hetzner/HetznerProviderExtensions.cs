using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>Plugs the Hetzner Cloud provider in: <c>Provider: hetzner</c> pools, <c>Fleet:Pools:N:Hetzner</c>, the <c>Hetzner</c> section.</summary>
internal static class HetznerProviderExtensions
{
    public static IServiceCollection AddHetznerProvider(this IServiceCollection services)
    {
        services.AddOptions<HetznerOptions>().BindConfiguration(HetznerOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<HetznerOptions>, HetznerOptionsValidator>();
        services.AddHttpClient<HetznerClient>(c => c.Timeout = TimeSpan.FromSeconds(60));
        services.AddSingleton<HetznerActionWatch>();
        services.AddHostedService<HetznerImageCheck>();
        // Servers are billed per started hour: spending caps and cost apply.
        return services.AddRunnerProvider<HetznerProvider, HetznerPoolSettings>(HetznerProvider.KindName, "Hetzner", new ProviderTraits { BillsPerHour = true, InstallsRunner = true },
            HetznerPoolSettings.Validate, HetznerPoolSettings.Describe);
    }
}
