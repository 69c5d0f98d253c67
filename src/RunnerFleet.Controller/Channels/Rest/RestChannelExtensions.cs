using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>Plugs the REST channel in: polling and webhook job sources, the fork pull request policy, JIT or token registration.</summary>
internal static class RestChannelExtensions
{
    public static IServiceCollection AddRestChannel(this IServiceCollection services)
    {
        services.AddSingleton(new ChannelPlugin(RestChannel.KindName, IsDefault: true, PoolSettingsBinder.For<RestChannelSettings>(RestChannelSettings.Validate, RestChannelSettings.Describe)));
        services.AddKeyedSingleton<IRunnerChannel, RestChannel>(RestChannel.KindName.ToLowerInvariant());
        services.AddSingleton<ForkPolicy>();
        services.AddSingleton<IJobPolicy>(sp => sp.GetRequiredService<ForkPolicy>());
        services.AddSingleton<RestPollingJobSource>();
        services.AddSingleton<IJobPoller>(sp => sp.GetRequiredService<RestPollingJobSource>());
        services.AddSingleton<WebhookJobSource>();
        services.AddSingleton<WebhookRefusals>();
        services.AddWebhookLimits();
        return services;
    }
}
