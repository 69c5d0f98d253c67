using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Lifecycle;

public sealed class ProvisionerTests
{
    [Fact]
    public async Task Provisioning_registers_the_runner_and_launches_it_with_its_jit_config()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);

        var result = await fleet.Provisioner.ProvisionAsync(fleet.Pool, "octo/app", ct);

        Assert.Null(result.ErrorCode);
        var runner = await fleet.RunnerAsync(result.Runner.Id, ct);
        Assert.Equal(RunnerState.Provisioning, runner.State);
        Assert.StartsWith("test-linux-", runner.Name, StringComparison.Ordinal);
        Assert.Equal(fleet.Node.Id, runner.Owner);
        Assert.Equal(fleet.Channel.Registered[runner.Name], runner.GitHubRunnerId);
        Assert.Equal($"res-{runner.Name}", runner.ProviderResourceId);
        Assert.Equal(FakeProvider.Endpoint, runner.ProviderEndpoint);
        Assert.Equal(LifecycleFixture.Start, runner.CreatedAt);
        var launch = Assert.Single(fleet.Provider.Launches);
        Assert.Equal(runner.Name, launch.Name);
        Assert.Equal("test", launch.Fleet);
        Assert.Equal(FakeChannel.JitConfig, launch.JitConfig);
        Assert.Equal([RunnerState.Requested, RunnerState.Provisioning], await fleet.StatesAsync(runner.Id, ct));
    }

    [Fact]
    public async Task A_provider_failure_fails_the_record_and_removes_its_resource_and_github_runner()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fleet = await LifecycleFixture.CreateAsync(ct);
        // The provider made the resource, then failed to start it.
        fleet.Provider.FailNextCreate(new ProviderException("no_capacity", "no capacity left"), leaveBehind: true);

        var result = await fleet.Provisioner.ProvisionAsync(fleet.Pool, "octo/app", ct);

        Assert.Equal("no_capacity", result.ErrorCode);
        var failed = await fleet.RunnerAsync(result.Runner.Id, ct);
        Assert.Equal(RunnerState.Failed, failed.State);
        Assert.Equal("provisioning failed: no capacity left", failed.FailureReason);
        Assert.Equal(fleet.Channel.Registered[failed.Name], failed.GitHubRunnerId);
        Assert.Equal(LifecycleFixture.Start, failed.DestroyedAt);
        Assert.Null(fleet.Provider.Find(failed.Name));
        Assert.Contains(failed.Name, fleet.Channel.Deregistered);
        Assert.Equal([RunnerState.Requested, RunnerState.Failed], await fleet.StatesAsync(failed.Id, ct));
    }
}
