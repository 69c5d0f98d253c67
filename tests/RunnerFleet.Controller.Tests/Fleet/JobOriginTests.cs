using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Fleet;

public sealed class JobOriginTests
{
    [Theory]
    [InlineData("pull_request", "mallory/app", false, true)]
    [InlineData("pull_request_target", "mallory/app", false, true)]
    [InlineData("pull_request_review", "mallory/app", false, true)]
    [InlineData("pull_request", null, false, true)] // the fork was deleted: still not ours
    [InlineData("pull_request", "octo/app", false, false)] // a branch of the repository itself
    [InlineData("PULL_REQUEST", "mallory/app", false, false)] // events are lower case; anything else is not a pull request
    [InlineData("push", "octo/app", false, false)]
    [InlineData("pull_request", "mallory/app", true, false)] // private repository: forks are collaborators'
    public void A_pull_request_from_another_repository_of_a_public_repository_is_a_fork_pull_request(string @event, string? head, bool isPrivate, bool expected) =>
        Assert.Equal(expected, new JobOrigin(@event, head, isPrivate).IsPublicForkPullRequest("octo/app"));

    [Fact]
    public void Unknown_parts_leave_it_undecided_unless_the_repository_is_private()
    {
        Assert.Null(new JobOrigin(null, null, false).IsPublicForkPullRequest("octo/app"));
        Assert.Null(new JobOrigin("pull_request", "mallory/app", null).IsPublicForkPullRequest("octo/app"));
        Assert.False(new JobOrigin(null, null, true).IsPublicForkPullRequest("octo/app"));
    }
}
