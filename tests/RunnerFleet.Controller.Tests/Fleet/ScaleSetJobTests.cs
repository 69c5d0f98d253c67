using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Fleet;

/// <summary>A scale set's job by its jobId: a reassigned job stays one job; events out of order never move it back.</summary>
public sealed class ScaleSetJobTests
{
    private static ScaleSetJob Seen(ScaleSetJobState state, string? runner = null, string? result = null) =>
        new() { JobId = "8f1c", Pool = "set", Repository = "octo/app", State = state, RunnerName = runner, Result = result };

    [Fact]
    public void A_job_cancelled_and_assigned_again_is_the_same_job_assigned_twice()
    {
        var job = ScaleSetJob.Apply(null, Seen(ScaleSetJobState.Assigned))!;
        job = ScaleSetJob.Apply(job, Seen(ScaleSetJobState.Completed, result: "canceled"))!;
        job = ScaleSetJob.Apply(job, Seen(ScaleSetJobState.Assigned))!;
        job = ScaleSetJob.Apply(job, Seen(ScaleSetJobState.Started, "runner-1"))!;
        job = ScaleSetJob.Apply(job, Seen(ScaleSetJobState.Completed, "runner-1", "succeeded"))!;

        Assert.Equal((ScaleSetJobState.Completed, 2, "runner-1", "succeeded"), (job.State, job.Assignments, job.RunnerName, job.Result));
    }

    [Fact]
    public void Late_or_repeated_events_change_nothing()
    {
        var started = ScaleSetJob.Apply(ScaleSetJob.Apply(null, Seen(ScaleSetJobState.Assigned)), Seen(ScaleSetJobState.Started, "runner-1"))!;

        Assert.Null(ScaleSetJob.Apply(started, Seen(ScaleSetJobState.Assigned)));
        Assert.Null(ScaleSetJob.Apply(started, Seen(ScaleSetJobState.Started, "runner-1")));
        var done = ScaleSetJob.Apply(started, Seen(ScaleSetJobState.Completed, "runner-1", "failed"))!;
        // A finished job that ran is not reopened by a stray assignment.
        Assert.Null(ScaleSetJob.Apply(done, Seen(ScaleSetJobState.Assigned)));
    }
}
