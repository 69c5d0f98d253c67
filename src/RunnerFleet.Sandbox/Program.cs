using Microsoft.Extensions.Logging;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;
using RunnerFleet.Sandbox.Hetzner;

// Sandbox mode (the default): the controller with the simulators in one process, a stream of synthetic jobs.
//   dotnet run --project src/RunnerFleet.Sandbox [-- --Urls http://127.0.0.1:5000 ...controller settings]
// Standalone simulators only: dotnet run --project src/RunnerFleet.Sandbox -- --simulators-only --github-url http://127.0.0.1:5080
// The controller with the in-process provider, configured like the service (the Aspire AppHost's sandbox): --controller
if (args.Contains("--controller"))
{
    try
    {
        await using var controller = RunnerFleet.Controller.Hosting.ControllerHost.Build([.. args.Where(a => a != "--controller")], null,
            b => RunnerFleet.Sandbox.InProcess.InProcessProviderExtensions.AddInProcessProvider(b.Services));
        await controller.RunAsync();
        return 0;
    }
    catch (Microsoft.Extensions.Options.OptionsValidationException e)
    {
        Console.Error.WriteLine("RunnerFleet cannot start: the configuration is invalid.");
        foreach (var failure in e.Failures)
        {
            Console.Error.WriteLine($"  - {failure}");
        }

        return 2;
    }
}

string[] simulatorFlags = ["--simulators-only", "--github-url", "--hetzner-url", "--runner-base-url", "--webhook-url", "--help", "-h"];
if (!args.Any(a => simulatorFlags.Contains(a)))
{
    try
    {
        return await RunnerFleet.Sandbox.SandboxMode.RunAsync(args);
    }
    catch (Microsoft.Extensions.Options.OptionsValidationException e)
    {
        Console.Error.WriteLine("RunnerFleet cannot start: the configuration is invalid.");
        foreach (var failure in e.Failures)
        {
            Console.Error.WriteLine($"  - {failure}");
        }

        return 2;
    }
}

args = [.. args.Where(a => a != "--simulators-only")];
var options = new GitHubSimulatorOptions();
var urls = new List<string>();
var hetznerUrls = new List<string>();
var hetznerOptions = new HetznerSimulatorOptions();
string? webhookUrl = null, webhookSecret = null;
var syntheticJobs = false;
var withHetzner = false;
var repos = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--github-url": urls.Add(Next()); break;
        case "--runner-base-url": options.RunnerBaseUrl = Next(); break;
        case "--hetzner-url": hetznerUrls.Add(Next()); break;
        case "--hetzner-token": hetznerOptions.Tokens.Add(Next()); break;
        case "--token": options.Tokens.Add(Next()); break;
        case "--rate-limit": options.RateLimitPerHour = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--webhook-url": webhookUrl = Next(); break;
        case "--webhook-secret": webhookSecret = Next(); break;
        case "--repository": repos.Add(Next()); break;
        case "--synthetic-jobs": syntheticJobs = true; break;
        case "--with-hetzner": withHetzner = true; break;
        case "--help" or "-h":
            Console.WriteLine("""
                RunnerFleet.Sandbox: with no simulator option, RunnerFleet in sandbox mode (controller + simulators + synthetic jobs).
                --simulators-only: the GitHub (and Hetzner) simulators alone, for a controller run elsewhere:
                  --github-url URL        where to serve the GitHub API (repeatable; default http://127.0.0.1:5080)
                  --runner-base-url URL   the address runners use to reach the simulator (written into JIT configs)
                  --token TOKEN           accept this personal access token (sandbox-token is always accepted)
                  --rate-limit N          primary rate limit per token and hour (default 5000)
                  --webhook-url URL       POST workflow_job events here
                  --webhook-secret S      sign them with this secret (X-Hub-Signature-256)
                  --repository OWNER/REPO create this repository at start (repeatable)
                  --hetzner-url URL       also serve the Hetzner Cloud simulator there (API under /v1)
                  --hetzner-token TOKEN   accept this Hetzner token (sandbox-hcloud-token is always accepted)
                  --with-hetzner          serve the Hetzner Cloud simulator beside GitHub's, under /v1
                  --synthetic-jobs        queue a stream of jobs over the repositories, as sandbox mode does
                --controller: the controller with simulated in-process runners, configured like the service.
                Without --github-url the simulators listen on ASPNETCORE_URLS (as Aspire passes it), else 127.0.0.1:5080.
                """);
            return 0;
        default:
            Console.Error.WriteLine($"Unknown option '{args[i]}'. See --help.");
            return 2;
    }
}

if (urls.Count == 0)
{
    urls.AddRange(Environment.GetEnvironmentVariable("ASPNETCORE_URLS")?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } given ? given : ["http://127.0.0.1:5080"]);
}

using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));
await using var server = await SandboxServer.StartAsync(urls, options, withHetzner ? hetznerOptions : null, TimeProvider.System, loggerFactory);
foreach (var repo in repos)
{
    server.Simulator.EnsureRepository(repo);
}

if (webhookUrl is not null)
{
    server.Simulator.AddWebhook(new Uri(webhookUrl), webhookSecret);
}

await using var hetzner = hetznerUrls.Count > 0 ? await SandboxServer.StartAsync(hetznerUrls, null, hetznerOptions, TimeProvider.System, loggerFactory) : null;
Console.WriteLine($"GitHub simulator listening on {string.Join(", ", server.Addresses)}");
if (hetzner is not null)
{
    Console.WriteLine($"Hetzner simulator listening on {hetzner.HetznerApiUrl} (token sandbox-hcloud-token)");
}

Console.WriteLine($"  queue jobs:  curl -X POST {server.BaseUrl}_sandbox/jobs -H 'content-type: application/json' -d '{{\"repository\":\"octo/app\",\"labels\":[\"self-hosted\",\"linux\",\"x64\"],\"count\":5,\"durationSeconds\":3}}'");
Console.WriteLine("Press Ctrl+C to stop.");
var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
// SIGTERM reaches the server's host first (it stops, and keeps the process alive for us to end): end with it.
server.Stopping.Register(() => stop.TrySetResult());
using var jobsStop = new CancellationTokenSource();
var jobs = syntheticJobs && repos.Count > 0 ? SandboxMode.GenerateJobsAsync(server.Simulator, repos, jobsStop.Token) : Task.CompletedTask;
await stop.Task;
await jobsStop.CancelAsync();
await jobs;
return 0;
