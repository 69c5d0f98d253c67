using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunnerFleet.IntegrationTests;

/// <summary>Headless Chromium and one page, over the DevTools protocol (JSON over a WebSocket).</summary>
internal sealed class HeadlessBrowser : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ClientWebSocket _socket;
    private readonly string _profile;
    private int _id;

    private HeadlessBrowser(Process process, ClientWebSocket socket, string profile) => (_process, _socket, _profile) = (process, socket, profile);

    public static async Task<HeadlessBrowser> StartAsync()
    {
        var profile = Directory.CreateTempSubdirectory("rf-chromium-").FullName;
        var psi = new ProcessStartInfo(BrowserTests.Chromium) { RedirectStandardError = true, RedirectStandardOutput = true };
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
        return new HeadlessBrowser(process, socket, profile);
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
