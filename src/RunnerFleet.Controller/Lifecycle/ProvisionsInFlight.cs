using System.Collections.Concurrent;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// The runner records this controller is provisioning right now. A Requested record of this controller that
/// is not among them was abandoned (a provision that died half-way) and is the reaper's to finish, like a
/// dead controller's: nothing stays Requested while its owner is alive but no longer working on it.
/// </summary>
internal sealed class ProvisionsInFlight
{
    private readonly ConcurrentDictionary<string, byte> _ids = new(StringComparer.Ordinal);

    public IDisposable Begin(string recordId)
    {
        _ids[recordId] = 0;
        return new End(this, recordId);
    }

    public bool Contains(string recordId) => _ids.ContainsKey(recordId);

    private sealed class End(ProvisionsInFlight owner, string id) : IDisposable
    {
        public void Dispose() => owner._ids.TryRemove(id, out _);
    }
}
