using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace RunnerFleet.IntegrationTests;

/// <summary>What operators' tools see: OTLP/HTTP export of traces, metrics and logs, and the Prometheus scrape.</summary>
[Trait("Category", "Telemetry")]
[Collection(nameof(DockerCollection))]
public sealed class TelemetryTests(DockerEnvironment docker)
{
    private static readonly string[] s_linux = ["self-hosted", "linux"];

    [Fact]
    public async Task The_controller_exports_traces_metrics_and_logs_over_otlp_with_one_trace_per_runner_lifecycle()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"], [new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "2" }],
            extra: new Dictionary<string, string>
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Url,
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_SERVICE_NAME"] = "runnerfleet-controller",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
                ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
                ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            });
        fleet.GitHub.QueueJobs("octo/app", s_linux, 2, TimeSpan.FromMilliseconds(500));
        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync(), TimeSpan.FromMinutes(1), fleet.DescribeAsync);

        string[] lifecycle = ["runner.provision", "runner.register.jit", "runner.create", "runner.boot", "runner.job", "runner.teardown"];
        await FleetUnderTest.WaitUntilAsync(() => Task.FromResult(receiver.CompleteLifecycles(lifecycle) >= 2 && receiver.Contains("metrics", "runnerfleet.runners") && receiver.Contains("logs", "-> Gone")),
            TimeSpan.FromSeconds(30), () => Task.FromResult($"spans seen: {string.Join(", ", receiver.Spans().Select(s => s.Name).Distinct())}; metrics posts {receiver.Count("metrics")}, log posts {receiver.Count("logs")}"));

        Assert.True(receiver.Contains("traces", "runnerfleet-controller"), "the resource names the service");
        Assert.True(receiver.Contains("metrics", "runnerfleet.runner.boot"), "the boot-time histogram is exported");
        Assert.True(receiver.Contains("logs", "took job"), "structured logs are exported");
    }

    [Fact]
    public async Task Metrics_are_scraped_in_prometheus_format_with_sensible_values()
    {
        await using var fleet = await FleetUnderTest.StartAsync(docker, ["octo/app"], [new() { ["Name"] = "linux", ["Labels:0"] = "linux", ["MaxRunners"] = "3" }]);
        fleet.GitHub.QueueJobs("octo/app", s_linux, 3, TimeSpan.FromMilliseconds(500));
        await FleetUnderTest.WaitUntilAsync(async () => fleet.GitHub.AllJobs().All(j => j.Status == "completed") && await fleet.AllFinalAsync(), TimeSpan.FromMinutes(1), fleet.DescribeAsync);

        using var http = new HttpClient { BaseAddress = fleet.ControllerUrl };
        var text = string.Empty;
        await FleetUnderTest.WaitUntilAsync(async () =>
        {
            text = await http.GetStringAsync("/metrics");
            // Gauges follow the plan loop (every second here): wait for it to have seen the fleet idle.
            return Value(text, "runnerfleet_job_wait_seconds_count", "linux") == 3 && Value(text, "runnerfleet_runners", "state=\"Busy\"") == 0;
        }, TimeSpan.FromSeconds(20), () => Task.FromResult(text));

        Assert.Equal(3, Value(text, "runnerfleet_runner_boot_seconds_count", "linux"));
        Assert.Equal(0, Value(text, "runnerfleet_jobs_queued", "pool=\"linux\""));
        Assert.True(Value(text, "runnerfleet_github_requests_total", "generate-jitconfig") >= 3);
        Assert.InRange(Value(text, "runnerfleet_github_ratelimit_remaining", "core") ?? -1, 1, 5000);
        Assert.Contains("# TYPE runnerfleet_job_wait_seconds histogram", text, StringComparison.Ordinal);
    }

    /// <summary>The value of the first sample of <paramref name="metric"/> whose line contains <paramref name="contains"/>.</summary>
    private static double? Value(string text, string metric, string contains) =>
        text.Split('\n').Where(l => l.StartsWith(metric, StringComparison.Ordinal) && (l.Length == metric.Length || l[metric.Length] is '{' or ' ') && l.Contains(contains, StringComparison.Ordinal))
            .Select(l => double.Parse(l[(l.LastIndexOf('}') is var b and >= 0 ? b + 1 : metric.Length)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture))
            .Cast<double?>().FirstOrDefault();

    /// <summary>An OTLP/HTTP (protobuf) receiver: keeps every export request; reads spans with a small protobuf walker.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<(string Signal, byte[] Body)> _posts = new();

        private OtlpReceiver(WebApplication app) => _app = app;

        public string Url { get; private set; } = string.Empty;

        public static async Task<OtlpReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/{signal}", async (string signal, HttpContext ctx) =>
            {
                using var body = new MemoryStream();
                await ctx.Request.Body.CopyToAsync(body);
                receiver._posts.Enqueue((signal, body.ToArray()));
                ctx.Response.ContentType = "application/x-protobuf";
            });
            await app.StartAsync();
            receiver.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return receiver;
        }

        public int Count(string signal) => _posts.Count(p => p.Signal == signal);

        public bool Contains(string signal, string text)
        {
            var needle = Encoding.UTF8.GetBytes(text);
            return _posts.Any(p => p.Signal == signal && p.Body.AsSpan().IndexOf(needle) >= 0);
        }

        public IReadOnlyList<(string TraceId, string SpanId, string ParentId, string Name)> Spans() =>
        [
            .. from post in _posts where post.Signal == "traces"
               from resourceSpans in Fields(post.Body, 1)
               from scopeSpans in Fields(resourceSpans, 2)
               from span in Fields(scopeSpans, 2)
               select (Hex(span, 1), Hex(span, 2), Hex(span, 4), Encoding.UTF8.GetString(Fields(span, 5).FirstOrDefault() ?? [])),
        ];

        /// <summary>Traces in which the root span has every lifecycle span, each (but the root) a direct child of it.</summary>
        public int CompleteLifecycles(string[] names)
        {
            var spans = Spans();
            return spans.Where(s => s.Name == names[0]).Count(root =>
                names.Skip(1).All(n => spans.Any(s => s.Name == n && s.TraceId == root.TraceId && (s.ParentId == root.SpanId || spans.Any(p => p.SpanId == s.ParentId && p.ParentId == root.SpanId)))));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        private static string Hex(byte[] message, int field) => Convert.ToHexStringLower(Fields(message, field).FirstOrDefault() ?? []);

        /// <summary>The length-delimited values of one field number in a protobuf message.</summary>
        private static IEnumerable<byte[]> Fields(byte[] message, int field)
        {
            var i = 0;
            while (i < message.Length)
            {
                var key = Varint(message, ref i);
                var (number, wire) = ((int)(key >> 3), (int)(key & 7));
                switch (wire)
                {
                    case 0: Varint(message, ref i); break;
                    case 1: i += 8; break;
                    case 5: i += 4; break;
                    case 2:
                        var length = (int)Varint(message, ref i);
                        if (number == field)
                        {
                            yield return message[i..(i + length)];
                        }

                        i += length;
                        break;
                    default: throw new InvalidDataException($"wire type {wire} at {i}");
                }
            }
        }

        private static ulong Varint(byte[] b, ref int i)
        {
            ulong value = 0;
            for (var shift = 0; ; shift += 7)
            {
                var x = b[i++];
                value |= (ulong)(x & 0x7f) << shift;
                if ((x & 0x80) == 0)
                {
                    return value;
                }
            }
        }
    }
}
