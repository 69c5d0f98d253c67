using System.Diagnostics;
using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunnerFleet.Bench;

/// <summary>What one run of a benchmark found: its named figures and the details behind them.</summary>
internal sealed record BenchResult(JsonObject Figures, JsonObject Details);

/// <summary>
/// One benchmark's JSON file: the commit, the configuration it ran in (build, GC mode, the controller's log level),
/// the machine, and each figure as the median of its runs with their minimum and maximum; the runs themselves and
/// the details of the last one follow.
/// </summary>
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

    /// <summary>How this process was built and runs: what a figure means depends on it.</summary>
    public static JsonObject Configuration(string logLevel, int runs, bool quick) => new()
    {
        ["build"] = typeof(Report).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "unknown",
        ["gc"] = GCSettings.IsServerGC ? "server" : "workstation",
        ["gc_concurrent"] = AppContext.TryGetSwitch("System.GC.Concurrent", out var concurrent) ? concurrent : true,
        ["controller_log_level"] = logLevel,
        ["runs"] = runs,
        ["mode"] = quick ? "quick" : "full",
    };

    public static string Commit { get; } = ReadCommit();

    /// <summary>Writes NAME.json: each numeric figure is the median of the runs, with min and max beside it.</summary>
    public static async Task<JsonObject> WriteAsync(string directory, string name, IReadOnlyList<BenchResult> runs, JsonObject configuration)
    {
        Directory.CreateDirectory(directory);
        var figures = new JsonObject();
        var spread = new JsonObject();
        foreach (var key in runs[0].Figures.Select(f => f.Key))
        {
            var values = runs.Select(r => r.Figures[key]).Where(v => v is JsonValue j && j.TryGetValue<double>(out var d) && !double.IsNaN(d)).Select(v => v!.GetValue<double>()).ToList();
            if (values.Count == 0)
            {
                figures[key] = runs[^1].Figures[key]?.DeepClone();
                continue;
            }

            figures[key] = Median(values);
            spread[key] = new JsonObject { ["min"] = values.Min(), ["max"] = values.Max() };
        }

        var doc = new JsonObject
        {
            ["benchmark"] = name,
            ["commit"] = Commit,
            ["configuration"] = configuration.DeepClone(),
            ["machine"] = Machine(),
            ["figures"] = figures,
            ["spread"] = spread,
            ["runs"] = new JsonArray([.. runs.Select(r => (JsonNode)r.Figures.DeepClone())]),
            ["details"] = runs[^1].Details.DeepClone(),
        };
        var path = Path.Combine(directory, $"{name}.json");
        await File.WriteAllTextAsync(path, doc.ToJsonString(s_options)).ConfigureAwait(false);
        Console.WriteLine($"  wrote {path}: {figures.ToJsonString()}");
        return doc;
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

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

    public static JsonArray Array(IEnumerable<double> values) => new([.. values.Select(v => (JsonNode)Math.Round(v, 2))]);

    /// <summary>Resets this process's peak resident set (VmHWM) to its current one; no-op where the kernel cannot.</summary>
    public static void ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The peak resident set of this process so far (VmHWM), in MiB.</summary>
    public static double PeakRssMb()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            if (line is not null && long.TryParse(line[6..].Trim().Split(' ')[0], out var kb))
            {
                return Math.Round(kb / 1024.0, 1);
            }
        }
        catch (IOException)
        {
        }

        using var self = Process.GetCurrentProcess();
        return Math.Round(self.PeakWorkingSet64 / (1024.0 * 1024), 1);
    }

    private static string ReadCommit()
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse --short=12 HEAD") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var commit = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            if (git.ExitCode != 0 || commit.Length == 0)
            {
                return "unknown";
            }

            using var status = Process.Start(new ProcessStartInfo("git", "status --porcelain --untracked-files=no") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var dirty = status.StandardOutput.ReadToEnd().Trim().Length > 0;
            status.WaitForExit();
            return dirty ? commit + "+changes" : commit;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
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
