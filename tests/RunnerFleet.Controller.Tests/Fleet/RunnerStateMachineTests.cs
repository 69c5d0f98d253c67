using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Fleet;

public sealed class RunnerStateMachineTests
{
    [Theory]
    [InlineData(RunnerState.Requested, RunnerState.Provisioning)]
    [InlineData(RunnerState.Provisioning, RunnerState.Idle)]
    [InlineData(RunnerState.Provisioning, RunnerState.Busy)]
    [InlineData(RunnerState.Provisioning, RunnerState.Completed)]
    [InlineData(RunnerState.Idle, RunnerState.Busy)]
    [InlineData(RunnerState.Busy, RunnerState.Completed)]
    [InlineData(RunnerState.Completed, RunnerState.Destroying)]
    [InlineData(RunnerState.Destroying, RunnerState.Gone)]
    [InlineData(RunnerState.Idle, RunnerState.Destroying)]
    [InlineData(RunnerState.Requested, RunnerState.Failed)]
    [InlineData(RunnerState.Busy, RunnerState.Failed)]
    [InlineData(RunnerState.Destroying, RunnerState.Failed)]
    public void Allows_forward_transitions(RunnerState from, RunnerState to) => Assert.True(RunnerStateMachine.CanTransition(from, to));

    [Theory]
    [InlineData(RunnerState.Busy, RunnerState.Idle)]
    [InlineData(RunnerState.Idle, RunnerState.Provisioning)]
    [InlineData(RunnerState.Completed, RunnerState.Busy)]
    [InlineData(RunnerState.Gone, RunnerState.Destroying)]
    [InlineData(RunnerState.Gone, RunnerState.Failed)]
    [InlineData(RunnerState.Failed, RunnerState.Gone)]
    [InlineData(RunnerState.Failed, RunnerState.Failed)]
    [InlineData(RunnerState.Requested, RunnerState.Busy)]
    [InlineData(RunnerState.Requested, RunnerState.Gone)]
    [InlineData(RunnerState.Busy, RunnerState.Busy)]
    public void Refuses_backward_and_skipping_transitions(RunnerState from, RunnerState to) => Assert.False(RunnerStateMachine.CanTransition(from, to));

    [Fact]
    public void Live_states_are_those_that_count_against_max_runners()
    {
        Assert.Equal([RunnerState.Requested, RunnerState.Provisioning, RunnerState.Idle, RunnerState.Busy], Enum.GetValues<RunnerState>().Where(RunnerStateMachine.IsLive));
        Assert.Equal([RunnerState.Gone, RunnerState.Failed], Enum.GetValues<RunnerState>().Where(RunnerStateMachine.IsFinal));
    }

    [Fact]
    public void Runner_names_are_valid_github_and_container_names()
    {
        var name = RunnerNames.Create("My Fleet!", "ARM64 pool with a very long name that goes on and on and on");

        Assert.Matches("^[a-z0-9][a-z0-9-]*[a-z0-9]$", name);
        Assert.True(name.Length <= 64, name);
        Assert.StartsWith(RunnerNames.Prefix("My Fleet!"), name, StringComparison.Ordinal);
        Assert.NotEqual(name, RunnerNames.Create("My Fleet!", "ARM64 pool with a very long name that goes on and on and on"));
    }
}
