using System.Collections.Concurrent;
using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace RunnerFleet.Bench;

/// <summary>The engine's container start events, by container name, stamped when they arrive (Stopwatch ticks).</summary>
internal sealed class ContainerStarts : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, long> _starts = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watch;

    public ContainerStarts(DockerClient docker) =>
        _watch = docker.System.MonitorEventsAsync(new ContainerEventsParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["event"] = new Dictionary<string, bool> { ["start"] = true }, ["type"] = new Dictionary<string, bool> { ["container"] = true } },
        }, new Progress<Message>(m => _starts.TryAdd(m.Actor.Attributes.TryGetValue("name", out var n) ? n : m.Actor.ID, Stopwatch.GetTimestamp())), _stop.Token);

    /// <summary>When the container named <paramref name="name"/> started (waits up to <paramref name="timeout"/> for its event).</summary>
    public async Task<long> WaitAsync(string name, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!_starts.TryGetValue(name, out _))
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"no start event for {name}");
            }

            await Task.Delay(1).ConfigureAwait(false);
        }

        return _starts[name];
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _watch.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
