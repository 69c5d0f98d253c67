using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Qemu;

/// <summary>Plugs the QEMU provider in: <c>Provider: qemu</c> pools, <c>Fleet:Pools:N:Qemu</c>, the <c>Qemu</c> section.</summary>
internal static class QemuProviderExtensions
{
    public static IServiceCollection AddQemuProvider(this IServiceCollection services)
    {
        services.AddOptions<QemuOptions>().BindConfiguration(QemuOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<QemuOptions>, QemuOptionsValidator>();
        services.AddSingleton<QemuHost>();
        services.AddHostedService<QemuHostCheck>();
        // VMs on the controller's own host cost nothing per hour.
        return services.AddRunnerProvider<QemuProvider, QemuPoolSettings>(QemuProvider.KindName, "Qemu", ProviderTraits.Free, QemuPoolSettings.Validate, QemuPoolSettings.Describe);
    }
}
