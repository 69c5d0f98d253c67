using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Fleet;

public sealed class LabelMatcherTests
{
    [Theory]
    [InlineData("self-hosted,linux,x64", "self-hosted,linux,x64", true)]
    [InlineData("self-hosted,linux,x64", "linux", true)]
    [InlineData("self-hosted,linux,x64", "LINUX,X64", true)]
    [InlineData("linux,x64", "self-hosted,linux", true)]
    [InlineData("self-hosted,linux,x64", "linux,arm64", false)]
    [InlineData("self-hosted,linux", "linux,x64", false)]
    [InlineData("self-hosted,linux,x64", "ubuntu-latest", false)]
    public void A_pool_serves_a_job_when_its_labels_contain_all_the_jobs_labels(string pool, string job, bool serves) =>
        Assert.Equal(serves, LabelMatcher.Serves(pool.Split(','), job.Split(',')));

    [Fact]
    public void The_first_matching_pool_in_configured_order_wins()
    {
        PoolDefinition P(string name, params string[] labels) => new() { Name = name, Labels = labels, Provider = "docker" };
        var pools = new[] { P("general", "self-hosted", "linux", "x64", "large"), P("small", "self-hosted", "linux", "x64") };

        Assert.Equal("general", LabelMatcher.FindPool(pools, ["linux", "x64"])?.Name);
        Assert.Equal("general", LabelMatcher.FindPool(pools, ["large"])?.Name);
        Assert.Null(LabelMatcher.FindPool(pools, ["windows"]));
        Assert.Null(LabelMatcher.FindPool(pools, []));
    }
}
