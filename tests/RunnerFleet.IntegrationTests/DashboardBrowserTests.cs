using System.Diagnostics;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// The Aspire dashboard of a running sandbox AppHost, in Debian's headless Chromium: the resources page shows the
/// fleet and its runners (saved as artifacts/browser/aspire-dashboard.png). The AppHost runs as a user starts it,
/// on plain HTTP on loopback.
/// </summary>
[Trait("Category", "Browser")]
public sealed class DashboardBrowserTests
{
    [Fact]
    public async Task The_dashboard_of_the_sandbox_apphost_shows_the_fleet_and_its_runners()
    {
        Assert.True(File.Exists(BrowserTests.Chromium), $"{BrowserTests.Chromium} is missing: apt-get install chromium (scripts/prepare.sh does)");
        var dashboard = FleetUnderTest.FreePort();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        psi.ArgumentList.Add(ControllerProcess.Dll("RunnerFleet.AppHost"));
        // The http launch profile's settings, on free ports; anonymous access is for loopback only.
        psi.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{dashboard}";
        psi.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://127.0.0.1:{FleetUnderTest.FreePort()}";
        psi.Environment["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://127.0.0.1:{FleetUnderTest.FreePort()}";
        psi.Environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        psi.Environment["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
        psi.Environment["DOTNET_ENVIRONMENT"] = "Development";
        psi.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        using var apphost = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        apphost.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        apphost.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        apphost.BeginOutputReadLine();
        apphost.BeginErrorReadLine();
        try
        {
            await using var browser = await HeadlessBrowser.StartAsync();
            await browser.SendAsync("Page.enable");
            await FleetUnderTest.WaitUntilAsync(async () =>
                {
                    await browser.SendAsync("Page.navigate", new() { ["url"] = $"http://127.0.0.1:{dashboard}/" });
                    await Task.Delay(1000, CancellationToken.None);
                    var text = await browser.EvaluateAsync("document.body ? document.body.innerText : ''") ?? string.Empty;
                    // The fleet, running, and at least one runner row (runner names start with the sandbox fleet's name).
                    return text.Contains("fleet", StringComparison.Ordinal) && text.Contains("Running", StringComparison.Ordinal)
                        && text.Contains("sandbox-linux", StringComparison.Ordinal);
                }, TimeSpan.FromMinutes(4), () => Task.FromResult(Tail(output)));
            await browser.ScreenshotAsync(Path.Combine(BrowserTests.Artifacts(), "aspire-dashboard.png"));
        }
        finally
        {
            // Ctrl+C, as a user stops it: the AppHost stops its resources (DCP), then itself.
            using (var kill = Process.Start("kill", ["-INT", apphost.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(CancellationToken.None);
            }

            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await apphost.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                apphost.Kill(entireProcessTree: true);
            }
        }
    }

    private static string Tail(System.Text.StringBuilder output)
    {
        lock (output)
        {
            var text = output.ToString();
            return text.Length > 4000 ? text[^4000..] : text;
        }
    }
}
