using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// Issue 15 item 5: what the controller shows (repositories, jobs, runners, errors) answers this machine, and
/// another machine only with the read token; the webhook and health checks stay public. The "other machine" is
/// the host's address on the test's own Docker network (not loopback). Before the fix everything was public.
/// </summary>
[Trait("Category", "Security")]
[Collection(nameof(DockerCollection))]
public sealed class ReadAccessTests(DockerEnvironment docker)
{
    private const string ReadToken = "read-token-0123456789abcdef0123456789ab";

    [Fact]
    public async Task The_read_api_answers_loopback_and_a_read_token_and_refuses_other_machines_without_one()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"],
            [new() { ["Name"] = "sim", ["Provider"] = "inprocess", ["Labels:0"] = "linux", ["MaxRunners"] = "1" }],
            webhooks: false, extra: new Dictionary<string, string> { ["Urls"] = $"http://127.0.0.1:0;http://{docker.Gateway}:0", ["Api:ReadToken"] = ReadToken });
        var remote = fleet.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a)).Single(u => u.Host == docker.Gateway);
        using var http = new HttpClient();
        var ct = TestContext.Current.CancellationToken;

        // This machine: as before.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(fleet.ControllerUrl, "/api/runners"), ct)).StatusCode);

        // Another machine: refused without the token, for the API, the status page and the metrics.
        foreach (var path in new[] { "/api/runners", "/api/jobs", "/api/pools", "/", "/metrics" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri(remote, path), ct)).StatusCode);
        }

        using var withToken = new HttpRequestMessage(HttpMethod.Get, new Uri(remote, "/api/pools"));
        withToken.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ReadToken);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(withToken, ct)).StatusCode);

        // The health checks and the webhook stay reachable (the webhook refuses an unsigned delivery itself).
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(remote, "/health"), ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync(new Uri(remote, "/webhooks/github"), new StringContent("{}"), ct)).StatusCode);
    }
}
