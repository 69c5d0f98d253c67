using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Store;

/// <summary>One line of the append-only transition log.</summary>
internal sealed record RunnerEvent(long Sequence, DateTimeOffset At, string RunnerId, string RunnerName, RunnerState? From, RunnerState To, string? Detail);
