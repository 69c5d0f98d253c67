using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Hosting;

/// <summary>Brings the store's schema up to date before any loop runs (registered before Quartz).</summary>
internal sealed class StoreInitializer(IFleetStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
