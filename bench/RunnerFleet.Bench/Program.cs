using RunnerFleet.Bench;

// RunnerFleet's benchmarks, against the simulators over real HTTP (and the real Docker engine for docker/latency):
//   dotnet run -c Release --project bench/RunnerFleet.Bench -- --out artifacts/bench [--only latency,scale] [--runs 3] [--samples 200]
//   ... -- --quick --out artifacts/bench-quick          the CI subset: checks bench/targets.json, exit 1 on a regression
//   ... -- --readme README.md --out artifacts/bench      rewrites the README's table from the JSON files (no run)
var output = Arg("--out") ?? Path.Combine("artifacts", "bench");
var quick = args.Contains("--quick");
var only = Arg("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
var samples = int.TryParse(Arg("--samples"), out var n) ? n : 200;
var runs = int.TryParse(Arg("--runs"), out var r) ? Math.Max(1, r) : quick ? 1 : 3;
var targets = Targets.Load(Arg("--targets") ?? Targets.DefaultPath());

if (Arg("--readme") is { } readme)
{
    await ReadmeTable.WriteAsync(readme, output, targets).ConfigureAwait(false);
    return 0;
}

// In quick mode, the benchmarks that carry the targets, shortened.
string[] quickSet = ["scale", "latency", "hetzner", "cache"];
bool Run(string name) => only is not null ? only.Contains(name) : !quick || quickSet.Contains(name);
var progress = Console.Out;
var configuration = Report.Configuration("Warning (latency: Information, as shipped)", runs, quick);
var written = new List<System.Text.Json.Nodes.JsonObject>();

progress.WriteLine($"RunnerFleet benchmarks → {Path.GetFullPath(output)} ({(quick ? "quick" : "full")}, {runs} run{(runs == 1 ? string.Empty : "s")} each, {configuration["build"]}, {configuration["gc"]} GC, commit {Report.Commit})");
var started = System.Diagnostics.Stopwatch.StartNew();
await Bench("scale", "plan tick and reconcile at 10,000 runners, peak RSS", () => ScaleBench.RunAsync(quick));
await Bench("latency", "job queued → started, Docker runners, Poisson arrivals, GitHub latency injected", () => LatencyBench.RunAsync(output, quick, progress));
await Bench("throughput", "highest arrival rate with a bounded queue, and what binds", () => ThroughputBench.RunAsync(quick, progress));
await Bench("hetzner", "Hetzner requests per runner and per hour at 100 and 500 runners/h, cost per job", () => HetznerBench.RunAsync(quick));
await Bench("overhead", $"webhook to create call, {samples} samples at 1, 100 and 1000 queued jobs", () => OverheadBench.RunAsync(samples));
await Bench("api-economy", "rate-limited requests per job (webhooks, polling) and per idle poll", EconomyBench.RunEconomyAsync);
await Bench("burst", "500 jobs over 25 repositories, 50 runners at most", EconomyBench.RunBurstAsync);
await Bench("arm64-ways", "one CPU-bound job natively, under QEMU user-mode emulation, in an ARM64 VM (TCG); VM boot times", () => Arm64WaysBench.RunAsync(quick, progress));
await Bench("docker", "webhook to container running, next to bare create + start", () => DockerBench.RunAsync(Math.Max(10, Math.Min(samples, 15))));
await Bench("cache", "one build job on a cold then a warm cache; copy-on-write overhead on runner start", () => CacheBench.RunAsync(quick, progress));
progress.WriteLine($"done in {started.Elapsed.TotalSeconds:F0} s");

var verdicts = args.Contains("--no-check") ? [] : targets.Check(written);
foreach (var v in verdicts)
{
    progress.WriteLine(v.ToString());
}

if (verdicts.Any(v => !v.Passed))
{
    progress.WriteLine($"bench: {verdicts.Count(v => !v.Passed)} figure(s) regressed past their target by more than the noise between runs (bench/targets.json)");
    return 1;
}

return 0;

async Task Bench(string name, string what, Func<Task<BenchResult>> run)
{
    if (!Run(name))
    {
        return;
    }

    var results = new List<BenchResult>();
    for (var i = 0; i < runs; i++)
    {
        progress.WriteLine($"{name} ({i + 1}/{runs}): {what} ...");
        // With more than one run, each runs in a process of its own: what one run leaves in the heap (and in the
        // process's peak memory) must not weigh on the next.
        results.Add(runs > 1 ? await ChildRunAsync(name).ConfigureAwait(false) : await run().ConfigureAwait(false));
    }

    written.Add(await Report.WriteAsync(output, name, results, configuration).ConfigureAwait(false));
}

async Task<BenchResult> ChildRunAsync(string name)
{
    var dir = Path.Combine(Path.GetTempPath(), $"rf-bench-run-{Guid.NewGuid():N}");
    var start = new System.Diagnostics.ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = false };
    foreach (var a in new[] { typeof(Report).Assembly.Location, "--only", name, "--runs", "1", "--out", dir, "--no-check" }.Concat(quick ? ["--quick"] : []))
    {
        start.ArgumentList.Add(a);
    }

    if (Arg("--samples") is { } s)
    {
        start.ArgumentList.Add("--samples");
        start.ArgumentList.Add(s);
    }

    using var child = System.Diagnostics.Process.Start(start)!;
    await child.WaitForExitAsync().ConfigureAwait(false);
    var file = Path.Combine(dir, name + ".json");
    if (child.ExitCode != 0 || !File.Exists(file))
    {
        throw new InvalidOperationException($"the {name} run in its own process failed (exit {child.ExitCode})");
    }

    var doc = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(file).ConfigureAwait(false))!.AsObject();
    Directory.Delete(dir, recursive: true);
    return new BenchResult(doc["runs"]![0]!.AsObject().DeepClone().AsObject(), doc["details"]!.AsObject().DeepClone().AsObject());
}

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
