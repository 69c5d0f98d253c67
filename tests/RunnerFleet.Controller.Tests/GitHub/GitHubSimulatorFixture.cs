using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.Controller.Tests.GitHub;

/// <summary>A GitHub simulator over real HTTP on loopback, with the repository octo/app, for a test class of its own.</summary>
public abstract class GitHubSimulatorFixture : IAsyncLifetime
{
    private protected SandboxServer Server { get; private set; } = null!;

    private protected GitHubSimulator Sim => Server.Simulator;

    public async ValueTask InitializeAsync()
    {
        Server = await SandboxServer.StartAsync(["http://127.0.0.1:0"], new GitHubSimulatorOptions(), TimeProvider.System, ct: TestContext.Current.CancellationToken);
        Sim.EnsureRepository("octo/app");
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
