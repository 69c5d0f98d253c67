using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunnerFleet.Bench;

/// <summary>One benchmark's JSON file: the machine it ran on, the named figures, and the details behind them.</summary>
internal static class Report
{
    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = true };

    public static JsonObject Machine() => new()
    {
        ["os"] = RuntimeInformation.OSDescription,
        ["arch"] = RuntimeInformation.OSArchitecture.ToString(),
        ["cpus"] = Environment.ProcessorCount,
        ["memory_gib"] = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024), 1),
        ["cpu_model"] = CpuModel(),
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["at"] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
    };

    public static async Task WriteAsync(string directory, string name, JsonObject figures, JsonObject? details = null)
    {
        Directory.CreateDirectory(directory);
        var doc = new JsonObject { ["benchmark"] = name, ["machine"] = Machine(), ["figures"] = figures, ["details"] = details ?? [] };
        var path = Path.Combine(directory, $"{name}.json");
        await File.WriteAllTextAsync(path, doc.ToJsonString(s_options)).ConfigureAwait(false);
        Console.WriteLine($"  wrote {path}: {figures.ToJsonString()}");
    }

    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = p / 100 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return Math.Round(sorted[lo] + ((sorted[hi] - sorted[lo]) * (rank - lo)), 3);
    }

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
