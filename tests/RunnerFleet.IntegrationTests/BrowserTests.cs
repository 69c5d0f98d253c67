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
    private const string Chromium = "/usr/bin/chromium";

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

        await using var browser = await Browser.StartAsync();
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
    private static string Artifacts()
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

    /// <summary>Headless Chromium and one page, over the DevTools protocol (JSON over a WebSocket).</summary>
    private sealed class Browser : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ClientWebSocket _socket;
        private readonly string _profile;
        private int _id;

        private Browser(Process process, ClientWebSocket socket, string profile) => (_process, _socket, _profile) = (process, socket, profile);

        public static async Task<Browser> StartAsync()
        {
            var profile = Directory.CreateTempSubdirectory("rf-chromium-").FullName;
            var psi = new ProcessStartInfo(Chromium) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--remote-debugging-port=0", $"--user-data-dir={profile}", "--window-size=1280,900", "about:blank" })
            {
                psi.ArgumentList.Add(a);
            }

            var process = Process.Start(psi)!;
            string? endpoint = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (endpoint is null && await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("DevTools listening on ", StringComparison.Ordinal))
                {
                    endpoint = line["DevTools listening on ".Length..].Trim();
                }
            }

            _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
            var devtools = new Uri(endpoint ?? throw new InvalidOperationException("Chromium did not print its DevTools endpoint"));
            using var http = new HttpClient();
            var targets = await http.GetFromJsonAsync<JsonElement>(new Uri($"http://{devtools.Authority}/json/list"));
            var pageUrl = targets.EnumerateArray().First(t => t.GetProperty("type").GetString() == "page").GetProperty("webSocketDebuggerUrl").GetString()!;
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri(pageUrl), CancellationToken.None);
            return new Browser(process, socket, profile);
        }

        public async Task<JsonNode?> SendAsync(string method, JsonObject? parameters = null)
        {
            var id = ++_id;
            var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? [] };
            await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                var reply = JsonNode.Parse(await ReceiveAsync(timeout.Token))!;
                if (reply["id"]?.GetValue<int>() == id)
                {
                    return reply["error"] is { } error ? throw new InvalidOperationException($"{method}: {error.ToJsonString()}") : reply["result"];
                }
            }
        }

        /// <summary>Evaluates in the page; null while the page is between documents (it refreshes itself).</summary>
        public async Task<string?> EvaluateAsync(string expression)
        {
            try
            {
                var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true });
                return result?["exceptionDetails"] is null ? result?["result"]?["value"]?.ToString() : null;
            }
            catch (InvalidOperationException)
            {
                return null;
            }
        }

        public async Task ScreenshotAsync(string path)
        {
            var shot = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true });
            await File.WriteAllBytesAsync(path, Convert.FromBase64String(shot!["data"]!.GetValue<string>()));
        }

        public async ValueTask DisposeAsync()
        {
            _socket.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync();
            _process.Dispose();
            try
            {
                Directory.Delete(_profile, true);
            }
            catch (IOException)
            {
                // Chromium may still hold a file for a moment; the temp directory is cleaned with the machine.
            }
        }

        private async Task<string> ReceiveAsync(CancellationToken ct)
        {
            var buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await _socket.ReceiveAsync(buffer, ct);
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            return Encoding.UTF8.GetString(message.ToArray());
        }
    }
}
