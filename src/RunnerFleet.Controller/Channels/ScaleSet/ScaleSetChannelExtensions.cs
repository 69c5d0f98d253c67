using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub.ScaleSets;

namespace RunnerFleet.Controller.Channels.ScaleSet;

/// <summary>Plugs the runner scale-set channel in: <c>Discovery: ScaleSet</c> pools, their listener and scaler.</summary>
internal static class ScaleSetChannelExtensions
{
    public static IServiceCollection AddScaleSetChannel(this IServiceCollection services)
    {
        services.AddSingleton(new ChannelPlugin(ScaleSetChannel.KindName, IsDefault: false, PoolSettingsBinder.For<ScaleSetChannelSettings>(ScaleSetChannelSettings.Validate, ScaleSetChannelSettings.Describe)));
        services.AddKeyedSingleton<IRunnerChannel, ScaleSetChannel>(ScaleSetChannel.KindName.ToLowerInvariant());
        // The scale-set message queue is a long poll (~50 s).
        services.AddHttpClient<ActionsServiceClient>(c => c.Timeout = TimeSpan.FromSeconds(90));
        services.AddSingleton<ScaleSetRegistry>();
        services.AddSingleton<ScaleSetScaler>();
        services.AddHostedService<ScaleSetListener>();
        return services;
    }
}
