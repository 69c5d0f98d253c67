using Microsoft.Extensions.DependencyInjection;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers;

namespace RunnerFleet.Sandbox.InProcess;

/// <summary>Plugs the in-process provider in (sandbox, tests, benchmarks): <c>Provider: inprocess</c> pools; no settings of their own.</summary>
internal static class InProcessProviderExtensions
{
    public static IServiceCollection AddInProcessProvider(this IServiceCollection services)
    {
        services.AddHttpClient(nameof(InProcessRunnerProvider), c => c.Timeout = TimeSpan.FromSeconds(60));
        return services.AddRunnerProvider<InProcessRunnerProvider, InProcessPoolSettings>(InProcessRunnerProvider.KindName, "InProcess", ProviderTraits.Free,
            (_, _) => [], _ => new Dictionary<string, object?>());
    }
}

/// <summary><c>Fleet:Pools:N:InProcess</c>: nothing yet; the boot delay is global (<c>InProcess:BootDelay</c>).</summary>
internal sealed class InProcessPoolSettings;
