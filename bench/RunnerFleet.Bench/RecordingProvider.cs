using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using RunnerFleet.Controller.Providers;

using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Bench;

/// <summary>
/// A provider that makes nothing: it notes when each create call arrives (a Stopwatch timestamp) and
/// lists what it "made", so the controller's own overhead is what is measured.
/// </summary>
internal sealed class RecordingProvider(string kind = "inprocess") : IRunnerProvider
{
    private readonly ConcurrentDictionary<string, ProvisionedRunner> _made = new(StringComparer.Ordinal);
    private TaskCompletionSource<long> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Kind => kind;

    public int Count => _made.Count;

    /// <summary>Completes with the Stopwatch timestamp of the next create call.</summary>
    public Task<long> NextCreateAsync() => _next.Task;

    public void Arm() => _next = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<ProvisionedRunner> CreateAsync(RunnerLaunch launch, CancellationToken ct)
    {
        var at = Stopwatch.GetTimestamp();
        var made = _made.GetOrAdd(launch.Name, name => new ProvisionedRunner { ResourceId = "rec:" + name, RunnerName = name, Pool = launch.Pool.Name, Endpoint = "rec", Status = ProvisionedStatus.Running });
        _next.TrySetResult(at);
        return Task.FromResult(made);
    }

    public Task DestroyAsync(ProvisionedRunner runner, CancellationToken ct)
    {
        _made.TryRemove(runner.RunnerName, out _);
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<ProvisionedRunner> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var r in _made.Values)
        {
            yield return r;
        }
    }
}
