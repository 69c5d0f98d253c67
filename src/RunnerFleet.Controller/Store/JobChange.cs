using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Store;

/// <summary>The outcome of an upsert: whether the job is new, whether it moved, and the stored result.</summary>
internal sealed record JobChange(bool IsNew, bool Changed, JobRecord Stored);
