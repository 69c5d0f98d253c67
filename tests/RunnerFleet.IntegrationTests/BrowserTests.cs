using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// The status page in a real browser: Debian's headless Chromium, driven over the DevTools protocol,
/// watches a sandbox run (the controller as its own process, as a user starts it).
/// </summary>
[Trait("Category", "Browser")]
[Collection(nameof(DockerCollection))]
public sealed class BrowserTests
{
    internal const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task The_status_page_shows_runners_changing_state_during_a_sandbox_run_and_fits_a_phone()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install chromium (scripts/prepare.sh does)");
        var port = FleetUnderTest.FreePort();
        await using var sandbox = ControllerProcess.Start([new("Urls", $"http://127.0.0.1:{port}")], sandbox: true);
        try
        {
            await WatchAsync(sandbox, new Uri($"http://127.0.0.1:{port}/"));
        }
        finally
        {
            sandbox.Kill9();
            await sandbox.WaitForExitAsync(CancellationToken.None);
            foreach (var id in await DockerEnvironment.ContainersAsync("sandbox"))
            {
                await DockerEnvironment.DockerAsync("rm", "-f", id);
            }
        }
    }

    private static async Task WatchAsync(ControllerProcess sandbox, Uri page)
    {
        using (var http = new HttpClient())
        {
            await FleetUnderTest.WaitUntilAsync(async () =>
            {
                try
                {
                    return (await http.GetAsync(page)).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), () => Task.FromResult(sandbox.Output));
        }

        await using var browser = await HeadlessBrowser.StartAsync();
        await browser.SendAsync("Page.enable");
        await browser.SendAsync("Page.navigate", new JsonObject { ["url"] = page.ToString() });

        // The page refreshes itself; watch one runner go through more than one state.
        var seen = new Dictionary<string, HashSet<string>>();
        await FleetUnderTest.WaitUntilAsync(async () =>
        {
            var rows = await browser.EvaluateAsync("JSON.stringify([...document.querySelectorAll('#runners tr')].slice(1).map(r => [r.cells[0].innerText, r.cells[2].innerText]))");
            foreach (var row in JsonNode.Parse(rows ?? "[]")!.AsArray())
            {
                var (name, state) = (row![0]!.GetValue<string>(), row[1]!.GetValue<string>());
                (seen.TryGetValue(name, out var states) ? states : seen[name] = []).Add(state);
            }

            return seen.Values.Any(s => s.Count >= 2 && s.Contains("Gone"));
        }, TimeSpan.FromSeconds(90), () => Task.FromResult($"runner states seen: {string.Join("; ", seen.Select(kv => $"{kv.Key}: {string.Join(">", kv.Value)}"))}\n{sandbox.Output}"));

        string? text = null;
        await FleetUnderTest.WaitUntilAsync(async () => (text = await browser.EvaluateAsync("document.body.innerText")) is not null, TimeSpan.FromSeconds(10), () => Task.FromResult("no page text"));
        Assert.Contains("RunnerFleet", text, StringComparison.Ordinal);
        Assert.Contains("linux-x64", text, StringComparison.Ordinal);
        await browser.ScreenshotAsync(Path.Combine(Artifacts(), "status-page.png"));

        // A phone: 390 CSS pixels wide, and nothing wider than the screen.
        await browser.SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject { ["width"] = 390, ["height"] = 844, ["deviceScaleFactor"] = 2, ["mobile"] = true });
        await browser.SendAsync("Page.navigate", new JsonObject { ["url"] = new Uri(page, "/?phone").ToString() });
        await FleetUnderTest.WaitUntilAsync(async () => await browser.EvaluateAsync("location.search + document.readyState") == "?phonecomplete", TimeSpan.FromSeconds(10), () => Task.FromResult("the page did not load"));
        var overflow = await browser.EvaluateAsync("String(Math.max(0, document.documentElement.scrollWidth - window.innerWidth))");
        Assert.Equal("0", overflow);
        await browser.ScreenshotAsync(Path.Combine(Artifacts(), "status-page-phone.png"));
    }

    /// <summary>artifacts/browser under the repository root.</summary>
    internal static string Artifacts()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RunnerFleet.sln")))
        {
            dir = dir.Parent;
        }

        var path = Path.Combine(dir?.FullName ?? Path.GetTempPath(), "artifacts", "browser");
        Directory.CreateDirectory(path);
        return path;
    }
}
