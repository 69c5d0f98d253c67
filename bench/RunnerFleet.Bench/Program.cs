using RunnerFleet.Bench;

// RunnerFleet's benchmarks, against the simulators over real HTTP (and the real Docker engine for docker.json):
//   dotnet run -c Release --project bench/RunnerFleet.Bench -- --out artifacts/bench [--only overhead,scale] [--samples 200]
var output = Arg("--out") ?? Path.Combine("artifacts", "bench");
var only = Arg("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
var samples = int.TryParse(Arg("--samples"), out var n) ? n : 200;
bool Run(string name) => only is null || only.Contains(name);

Console.WriteLine($"RunnerFleet benchmarks → {Path.GetFullPath(output)}");
var started = System.Diagnostics.Stopwatch.StartNew();
if (Run("scale"))
{
    Console.WriteLine("scale: plan and reconcile over 10,000 records ...");
    await ScaleBench.RunAsync(output);
}

if (Run("overhead"))
{
    Console.WriteLine($"overhead: webhook to create call, {samples} samples at 1, 100 and 1000 queued jobs ...");
    await OverheadBench.RunAsync(output, samples);
}

if (Run("api-economy"))
{
    Console.WriteLine("api-economy: rate-limited requests per job (webhooks, polling) and per idle poll ...");
    await EconomyBench.RunEconomyAsync(output);
}

if (Run("burst"))
{
    Console.WriteLine("burst: 500 jobs over 25 repositories, 50 runners at most ...");
    await EconomyBench.RunBurstAsync(output);
}

if (Run("hetzner"))
{
    Console.WriteLine("hetzner: Hetzner API requests per runner, cost per 5-minute cax21 job ...");
    await HetznerBench.RunAsync(output);
}

if (Run("docker"))
{
    Console.WriteLine("docker: webhook to container running, next to bare create + start ...");
    await DockerBench.RunAsync(output, Math.Max(10, Math.Min(samples, 15)));
}

Console.WriteLine($"done in {started.Elapsed.TotalSeconds:F0} s");
return 0;

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
