namespace RunnerFleet.Controller.Channels.ScaleSet;

/// <summary>A scale-set pool's keys: <c>Fleet:Pools:N:ScaleSet:{Name, RunnerGroup}</c>.</summary>
internal sealed class ScaleSetChannelSettings
{
    public ScaleSetKeys ScaleSet { get; set; } = new();

    /// <summary>The scale set's name: the <c>runs-on</c> label its jobs use. Default: the pool's name.</summary>
    public string NameFor(string pool) => string.IsNullOrWhiteSpace(ScaleSet.Name) ? pool : ScaleSet.Name;

    internal static IEnumerable<string> Validate(ScaleSetChannelSettings s, string key)
    {
        if (string.IsNullOrWhiteSpace(s.ScaleSet.RunnerGroup))
        {
            yield return $"{key}:ScaleSet:RunnerGroup must name a runner group (default: Default).";
        }
    }

    internal static IReadOnlyDictionary<string, object?> Describe(ScaleSetChannelSettings s) =>
        new Dictionary<string, object?> { ["scaleSet"] = s.ScaleSet.Name, ["runnerGroup"] = s.ScaleSet.RunnerGroup };
}

/// <summary><c>Fleet:Pools:N:ScaleSet</c>.</summary>
internal sealed class ScaleSetKeys
{
    public string? Name { get; set; }

    public string RunnerGroup { get; set; } = "Default";
}
