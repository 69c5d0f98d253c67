using System.Text;
using System.Text.Json;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;

namespace RunnerFleet.Controller.Tests.GitHub;

public sealed class WorkflowJobMapperTests
{
    private static byte[] Payload(string file) => File.ReadAllBytes(TestData.Path("github-webhooks", file));

    [Fact]
    public void Parses_the_real_queued_payload()
    {
        var e = WorkflowJobMapper.ParseWebhook(Payload("queued.payload.json"));
        var job = WorkflowJobMapper.ToRecord(e.WorkflowJob!, e.Repository!.FullName)!;

        Assert.Equal("queued", e.Action);
        Assert.Equal(289782451, job.Id);
        Assert.Equal(2202229078, job.RunId);
        Assert.Equal("Codertocat/Hello-World", job.Repository);
        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Equal(["ubuntu-latest"], job.Labels);
        Assert.Null(job.StartedAt);
        Assert.Equal(new DateTimeOffset(2021, 9, 13, 2, 21, 13, TimeSpan.Zero), job.QueuedAt);
    }

    [Theory]
    [InlineData("in_progress.payload.json", JobStatus.InProgress)]
    [InlineData("in_progress.with-queued-steps.payload.json", JobStatus.InProgress)]
    [InlineData("completed.success.with-organization.payload.json", JobStatus.Completed)]
    public void Parses_the_real_progress_payloads_with_their_runner(string file, JobStatus status)
    {
        var e = WorkflowJobMapper.ParseWebhook(Payload(file));
        var job = WorkflowJobMapper.ToRecord(e.WorkflowJob!, e.Repository!.FullName)!;
        using var doc = JsonDocument.Parse(Payload(file));
        var raw = doc.RootElement.GetProperty("workflow_job");

        Assert.Equal(status, job.Status);
        Assert.Equal(raw.GetProperty("id").GetInt64(), job.Id);
        Assert.Equal(raw.GetProperty("runner_name").GetString(), job.RunnerName);
        Assert.Equal(raw.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!), job.Labels);
        Assert.NotNull(job.StartedAt);
        if (status == JobStatus.Completed)
        {
            Assert.Equal(raw.GetProperty("conclusion").GetString(), job.Conclusion);
            Assert.NotNull(job.CompletedAt);
        }
    }

    [Fact]
    public void A_waiting_job_is_not_demand()
    {
        var e = WorkflowJobMapper.ParseWebhook(Payload("waiting.payload.json"));

        Assert.Equal("waiting", e.Action);
        Assert.Null(WorkflowJobMapper.ToRecord(e.WorkflowJob!, e.Repository!.FullName));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("{\"action\":\"queued\"}")]
    [InlineData("{\"action\":\"queued\",\"workflow_job\":{\"id\":1},\"repository\":{}}")]
    [InlineData("{\"action\":\"queued\",\"workflow_job\":{\"id\":\"x\"},\"repository\":{\"full_name\":\"a/b\"}}")]
    public void Malformed_bodies_are_refused_with_a_reason(string body)
    {
        var e = Assert.Throws<WebhookFormatException>(() => WorkflowJobMapper.ParseWebhook(Encoding.UTF8.GetBytes(body)));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void Reads_label_filters_when_labels_are_absent()
    {
        var body = """{"action":"queued","workflow_job":{"id":7,"run_id":8,"status":"queued","label_filters":["self-hosted","arm64"]},"repository":{"id":1,"full_name":"o/r","private":false}}""";
        var e = WorkflowJobMapper.ParseWebhook(Encoding.UTF8.GetBytes(body));

        Assert.Equal(["self-hosted", "arm64"], WorkflowJobMapper.ToRecord(e.WorkflowJob!, "o/r")!.Labels);
    }
}
