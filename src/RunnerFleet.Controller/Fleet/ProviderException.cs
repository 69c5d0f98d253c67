namespace RunnerFleet.Controller.Fleet;

/// <summary>A provider failure with a short machine-readable code (metric label) and no secrets in its message.</summary>
internal sealed class ProviderException(string code, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>e.g. "no_capacity", "image_missing", "engine_unreachable", "create_failed".</summary>
    public string Code { get; } = code;
}
