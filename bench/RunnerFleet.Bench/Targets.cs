using System.Globalization;
using System.Text.Json.Nodes;

namespace RunnerFleet.Bench;

/// <summary>
/// bench/targets.json: each checked figure's target (<c>max</c> or <c>min</c>) and its noise, the relative spread
/// seen between runs of the full benchmark on this machine. A figure regresses when it misses its target by more
/// than its noise: value &gt; max · (1 + noise), or value &lt; min · (1 − noise). Where the product does not reach
/// the issue's goal yet, <c>goal</c> holds the goal and <c>max</c>/<c>min</c> the figure measured today, so CI
/// guards against regressions while the miss stays visible (README table, note).
/// </summary>
internal sealed class Targets(IReadOnlyDictionary<string, Targets.Target> figures)
{
    public sealed record Target(string Figure, double? Max, double? Min, double Noise, string Why, double? Goal);

    public sealed record Verdict(Target Target, double? Value, bool Passed)
    {
        public override string ToString()
        {
            var bound = Target.Max is { } max ? $"≤ {max.ToString(CultureInfo.InvariantCulture)}" : $"≥ {Target.Min!.Value.ToString(CultureInfo.InvariantCulture)}";
            var value = Value is { } v ? v.ToString(CultureInfo.InvariantCulture) : "missing";
            return $"  {(Passed ? "ok  " : "FAIL")} {Target.Figure} = {value} (target {bound}, noise ±{Target.Noise:P0})";
        }
    }

    public IReadOnlyDictionary<string, Target> Figures => figures;

    public static string DefaultPath()
    {
        // From the repository root (dotnet run) or from the bench's own folder.
        foreach (var candidate in new[] { Path.Combine("bench", "targets.json"), Path.Combine(AppContext.BaseDirectory, "targets.json"), "targets.json" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return Path.Combine("bench", "targets.json");
    }

    public static Targets Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"bench targets not found at {path} (--targets FILE)", path);
        }

        var doc = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var figures = new Dictionary<string, Target>(StringComparer.Ordinal);
        foreach (var (name, node) in doc["figures"]!.AsObject())
        {
            var t = node!.AsObject();
            figures[name] = new Target(name, t["max"]?.GetValue<double>(), t["min"]?.GetValue<double>(), t["noise"]?.GetValue<double>() ?? 0, t["why"]?.GetValue<string>() ?? string.Empty, t["goal"]?.GetValue<double>());
            if (figures[name].Max is null == figures[name].Min is null)
            {
                throw new InvalidDataException($"{path}: figure {name} needs exactly one of max and min");
            }
        }

        return new Targets(figures);
    }

    /// <summary>Checks every targeted figure that the written reports hold (a benchmark not run is not checked).</summary>
    public IReadOnlyList<Verdict> Check(IEnumerable<JsonObject> reports)
    {
        var verdicts = new List<Verdict>();
        foreach (var report in reports)
        {
            foreach (var (name, value) in report["figures"]!.AsObject())
            {
                if (!figures.TryGetValue(name, out var target))
                {
                    continue;
                }

                double? v = value is JsonValue j && j.TryGetValue<double>(out var d) && !double.IsNaN(d) ? d : null;
                var passed = v is { } x && (target.Max is { } max ? x <= max * (1 + target.Noise) : x >= target.Min!.Value * (1 - target.Noise));
                verdicts.Add(new Verdict(target, v, passed));
            }
        }

        return verdicts;
    }
}
