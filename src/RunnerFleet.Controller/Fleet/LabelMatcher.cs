namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// Which pool serves a job: the first pool, in configured order, whose labels contain all of the job's
/// labels, compared case-insensitively, <c>self-hosted</c> being implicit.
/// </summary>
internal static class LabelMatcher
{
    public const string SelfHosted = "self-hosted";

    public static bool Serves(IReadOnlyList<string> poolLabels, IReadOnlyList<string> jobLabels) =>
        jobLabels.All(l => string.Equals(l, SelfHosted, StringComparison.OrdinalIgnoreCase) || poolLabels.Contains(l, StringComparer.OrdinalIgnoreCase));

    public static PoolDefinition? FindPool(IReadOnlyList<PoolDefinition> pools, IReadOnlyList<string> jobLabels) =>
        jobLabels.Count == 0 ? null : pools.FirstOrDefault(p => Serves(p.Labels, jobLabels));
}
