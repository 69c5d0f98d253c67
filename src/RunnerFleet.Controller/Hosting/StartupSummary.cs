using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;

namespace RunnerFleet.Controller.Hosting;

/// <summary>Prints, once started, what this controller runs and where to look.</summary>
internal sealed partial class StartupSummary(IServer server, PoolCatalog pools, IOptions<GitHubOptions> github, IHostApplicationLifetime lifetime, ILogger<StartupSummary> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            var urls = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
            var gh = github.Value;
            LogFleet(logger, pools.FleetName, gh.ApiUrl, gh.UsesApp ? $"GitHub App {gh.App.Id}" : "token",
                gh.PollInterval > TimeSpan.Zero ? $"polling every {gh.PollInterval.TotalSeconds:F0} s" : "polling off",
                string.IsNullOrEmpty(gh.WebhookSecret) ? "webhooks off (no secret)" : "webhooks on");
            foreach (var p in pools.Pools)
            {
                LogPool(logger, p.Name, string.Join(",", p.Labels), p.Provider, p.Channel, p.MinIdle, p.MaxRunners,
                    string.Join(", ", pools.Describe(p).Where(kv => kv.Value is not null).Select(kv => $"{kv.Key} {(kv.Value is System.Collections.IEnumerable e and not string ? string.Join("/", e.Cast<object>()) : Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture))}")));
            }

            var first = urls.FirstOrDefault() ?? "http://localhost:5000";
            LogWhere(logger, $"{first}/api/runners", $"{first}/api/jobs", $"{first}/api/pools", $"{first}/webhooks/github");
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "RunnerFleet {Fleet} against {ApiUrl} ({Auth}; {Polling}; {Webhooks})")]
    private static partial void LogFleet(ILogger logger, string fleet, Uri apiUrl, string auth, string polling, string webhooks);

    [LoggerMessage(Level = LogLevel.Information, Message = "  pool {Pool}: labels {Labels}, provider {Provider}, channel {Channel}, min idle {MinIdle}, max {MaxRunners}; {Settings}")]
    private static partial void LogPool(ILogger logger, string pool, string labels, string provider, string channel, int minIdle, int maxRunners, string settings);

    [LoggerMessage(Level = LogLevel.Information, Message = "Look here: runners {Runners} · jobs {Jobs} · pools {Pools} · GitHub webhook {Webhook}")]
    private static partial void LogWhere(ILogger logger, string runners, string jobs, string pools, string webhook);
}
