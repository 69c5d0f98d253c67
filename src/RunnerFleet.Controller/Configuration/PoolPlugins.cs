using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Configuration;

/// <summary>
/// A kind of provider as it registers itself (<c>Add&lt;Kind&gt;Provider()</c>): its name, its traits, and how
/// its own settings are read from a pool's <c>Fleet:Pools:N:&lt;Section&gt;</c>, checked and shown. The core
/// keeps those settings opaque (<see cref="PoolDefinition.ProviderSettings"/>).
/// </summary>
internal sealed record ProviderPlugin(string Kind, string Section, ProviderTraits Traits, PoolSettingsBinder Settings);

/// <summary>
/// A channel as it registers itself (<c>Add&lt;Kind&gt;Channel()</c>): the <c>Discovery</c> value pools name it
/// by, and how its settings are read from the pool's own section.
/// </summary>
internal sealed record ChannelPlugin(string Kind, bool IsDefault, PoolSettingsBinder Settings);

/// <summary>Reads, checks and shows one plug-in's settings of a pool.</summary>
internal sealed class PoolSettingsBinder(
    Func<IConfigurationSection, object> bind,
    Func<object, string, IEnumerable<string>> validate,
    Func<object, IReadOnlyDictionary<string, object?>> describe)
{
    /// <summary>Settings of type <typeparamref name="T"/>, bound from the section as usual; defaults where a key is missing.</summary>
    /// <param name="validate">Problems with the settings; each message starts with the key it gets (the pool's key + the section).</param>
    /// <param name="describe">What <c>/api/pools</c> shows of them.</param>
    public static PoolSettingsBinder For<T>(Func<T, string, IEnumerable<string>> validate, Func<T, IReadOnlyDictionary<string, object?>> describe) where T : class, new() =>
        new(section => section.Get<T>() ?? new T(), (s, key) => validate((T)s, key), s => describe((T)s));

    public object Bind(IConfigurationSection section) => bind(section);

    /// <param name="key">The configuration key of the settings, e.g. <c>Fleet:Pools:2:Hetzner</c>.</param>
    public IEnumerable<string> Validate(object settings, string key) => validate(settings, key);

    public IReadOnlyDictionary<string, object?> Describe(object settings) => describe(settings);
}
