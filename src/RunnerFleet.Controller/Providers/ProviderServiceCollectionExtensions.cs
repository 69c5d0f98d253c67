using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers;

/// <summary>How a provider plugs in: one call in its own <c>Add&lt;Kind&gt;Provider()</c>.</summary>
internal static class ProviderServiceCollectionExtensions
{
    /// <summary>Registers a provider of <paramref name="kind"/> whose pools carry <typeparamref name="TSettings"/> in <c>Fleet:Pools:N:&lt;section&gt;</c>.</summary>
    /// <param name="validate">Problems with a pool's settings, each naming its key (the key passed in is the section's).</param>
    /// <param name="describe">What <c>/api/pools</c> shows of a pool's settings.</param>
    public static IServiceCollection AddRunnerProvider<TProvider, TSettings>(
        this IServiceCollection services, string kind, string section, ProviderTraits traits,
        Func<TSettings, string, IEnumerable<string>> validate, Func<TSettings, IReadOnlyDictionary<string, object?>> describe)
        where TProvider : class, IRunnerProvider
        where TSettings : class, new()
    {
        services.AddSingleton(new ProviderPlugin(kind, section, traits, PoolSettingsBinder.For(validate, describe)));
        services.AddSingleton<TProvider>();
        services.AddKeyedSingleton<IRunnerProvider>(kind.ToLowerInvariant(), (sp, _) => sp.GetRequiredService<TProvider>());
        return services;
    }
}
