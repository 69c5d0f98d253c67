using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Tests;

/// <summary>Builds the controller's GitHub client by hand, against a simulator.</summary>
internal static class TestServices
{
    public static FleetTelemetry Telemetry()
    {
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        return new FleetTelemetry(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
    }

    public static GitHubApiClient GitHubClient(GitHubOptions options, TimeProvider? time = null, FleetTelemetry? telemetry = null)
    {
        time ??= TimeProvider.System;
        var o = Options.Create(options);
        var credentials = new GitHubCredentials(new HttpClient(), o, time, NullLogger<GitHubCredentials>.Instance);
        return new GitHubApiClient(new HttpClient(), credentials, o, time, telemetry ?? Telemetry(), NullLogger<GitHubApiClient>.Instance);
    }
}
