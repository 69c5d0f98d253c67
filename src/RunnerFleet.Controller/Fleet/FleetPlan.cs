namespace RunnerFleet.Controller.Fleet;

/// <summary>What the planner decided: runners to make and runners to retire.</summary>
internal sealed record FleetPlan(IReadOnlyList<Provision> Provisions, IReadOnlyList<Retirement> Retirements)
{
    public static FleetPlan Empty { get; } = new([], []);

    public int TotalToProvision => Provisions.Sum(p => p.Count);
}

/// <summary>Make <see cref="Count"/> runners in <see cref="Pool"/>, registered at <see cref="Scope"/>.</summary>
internal sealed record Provision(string Pool, string Scope, int Count);

/// <summary>Why a runner is retired; the kind decides whether its record ends Gone or Failed.</summary>
public enum RetirementKind
{
    IdleTimeout,
    BootTimeout,
    MaxJobDuration,

    /// <summary>The runner took a job a policy refused (GitHub hands a queued job to any idle runner whose labels match).</summary>
    PolicyViolation,

    /// <summary>An idle runner on a machine billed by the hour whose paid hour is about to end: gone before the next one starts.</summary>
    PaidHourEnd,
}

/// <summary>Destroy this runner.</summary>
internal sealed record Retirement(string RunnerId, string RunnerName, RetirementKind Kind, string Reason)
{
    public bool Fails => Kind is not (RetirementKind.IdleTimeout or RetirementKind.PaidHourEnd);
}
