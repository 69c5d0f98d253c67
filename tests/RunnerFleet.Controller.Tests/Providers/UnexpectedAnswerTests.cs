using System.Net;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Providers.Hetzner;

namespace RunnerFleet.Controller.Tests.Providers;

/// <summary>Answers of an unexpected shape become a clear error, never a crash or a null reference later.</summary>
public sealed class UnexpectedAnswerTests
{
    private sealed class CannedHandler(HttpStatusCode status, string body) : HttpMessageHandler
    {
        public int Calls { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Calls++;
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
        }
    }

    [Theory]
    [InlineData("<html>rate limiter page</html>")]
    [InlineData("{\"total_count\":\"many\",\"workflow_runs\":7}")]
    [InlineData("[]")]
    public async Task GitHub_answers_that_are_not_the_expected_shape_raise_a_clear_error(string body)
    {
        var options = Options.Create(new GitHubOptions { ApiUrl = new Uri("http://github.invalid"), Token = "t", Repositories = ["o/r"] });
        var time = TimeProvider.System;
        using var handler = new CannedHandler(HttpStatusCode.OK, body);
        using var credentials = new GitHubCredentials(new HttpClient(), options, time, NullLogger<GitHubCredentials>.Instance);
        using var client = new GitHubApiClient(new HttpClient(handler), credentials, options, time, TestServices.Telemetry(), NullLogger<GitHubApiClient>.Instance);

        var e = await Assert.ThrowsAsync<GitHubApiException>(() => client.ListRunsAsync("o/r", "queued", TestContext.Current.CancellationToken));

        Assert.Contains("not the expected shape", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, handler.Calls);
    }

    [Theory]
    [InlineData(HttpStatusCode.OK, "{\"servers\":\"none\"}", "invalid_response")]
    [InlineData(HttpStatusCode.Forbidden, "<html>forbidden</html>", "unexpected_answer")]
    [InlineData(HttpStatusCode.UnprocessableEntity, "{\"error\":{\"code\":\"invalid_input\",\"message\":\"bad\"}}", "invalid_input")]
    public async Task Hetzner_answers_that_are_not_the_expected_shape_raise_a_clear_error(HttpStatusCode status, string body, string code)
    {
        using var handler = new CannedHandler(status, body);
        var client = new HetznerClient(new HttpClient(handler), Options.Create(new HetznerOptions { ApiUrl = new Uri("http://hetzner.invalid/v1"), Token = "t" }),
            TestServices.Telemetry(), TimeProvider.System, NullLogger<HetznerClient>.Instance, new HetznerActionWatch());

        var e = await Assert.ThrowsAsync<HetznerApiException>(() => client.ListServersAsync(null, TestContext.Current.CancellationToken));

        Assert.Equal(code, e.Code);
        Assert.Equal(1, handler.Calls);
    }
}
