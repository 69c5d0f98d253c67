namespace RunnerFleet.Controller.Providers;

/// <summary>The providers by kind.</summary>
public sealed class RunnerProviders(IEnumerable<IRunnerProvider> providers)
{
    private readonly Dictionary<string, IRunnerProvider> _byKind = providers.ToDictionary(p => p.Kind, StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<IRunnerProvider> All => _byKind.Values;

    public IRunnerProvider Get(string kind) =>
        _byKind.TryGetValue(kind, out var p) ? p : throw new InvalidOperationException($"No runner provider '{kind}' is registered.");

    public bool TryGet(string kind, out IRunnerProvider provider) => _byKind.TryGetValue(kind, out provider!);
}
