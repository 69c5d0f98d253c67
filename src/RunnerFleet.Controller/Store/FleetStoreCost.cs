using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Store;

/// <summary>Money spent today (UTC), as the status page, the API and the spending caps count it.</summary>
internal static class FleetStoreCost
{
    /// <summary>Finished runners' cost since midnight plus what live ones cost so far (per started hour), by pool.</summary>
    public static async Task<IReadOnlyDictionary<string, decimal>> CostTodayAsync(this IFleetStore store, IReadOnlyList<RunnerRecord> live, DateTimeOffset now, CancellationToken ct)
    {
        var settled = await store.CostByPoolAsync(new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero), ct).ConfigureAwait(false);
        var total = new Dictionary<string, decimal>(settled, StringComparer.Ordinal);
        foreach (var r in live.Where(r => r.HourlyPrice is not null && !RunnerStateMachine.IsFinal(r.State)))
        {
            total[r.Pool] = total.GetValueOrDefault(r.Pool) + r.CostUntil(now);
        }

        return total;
    }

    /// <summary>Today's cost per job by pool (EUR): cost today over the jobs its runners requested today ran; pools without a job are left out.</summary>
    public static async Task<IReadOnlyDictionary<string, decimal>> CostPerJobTodayAsync(this IFleetStore store, IReadOnlyDictionary<string, decimal> costToday, DateTimeOffset now, CancellationToken ct)
    {
        var jobs = await store.JobsByPoolAsync(new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero), ct).ConfigureAwait(false);
        return costToday.Where(c => jobs.GetValueOrDefault(c.Key) > 0)
            .ToDictionary(c => c.Key, c => Math.Round(c.Value / jobs[c.Key], 4), StringComparer.Ordinal);
    }
}
