namespace RunnerFleet.Controller.Fleet;

/// <summary>
/// Daily spending caps (per pool and for the whole fleet), decided from today's money: what finished
/// runners cost, plus what live ones cost so far (billed per started hour). A new paid runner is allowed
/// only when its first hour still fits under every cap that applies; a pool whose price is not yet known
/// gets one runner at a time until it is. Pure: the caller reads the store and applies the verdict.
/// </summary>
internal static class SpendingCaps
{
    public static SpendingVerdict Evaluate(
        IReadOnlyList<PoolDefinition> pools,
        decimal? fleetBudget,
        IReadOnlyDictionary<string, decimal> settledToday,
        IReadOnlyList<RunnerRecord> live,
        IReadOnlyDictionary<string, decimal> knownPrices,
        DateTimeOffset now)
    {
        var allowed = new Dictionary<string, int?>(StringComparer.OrdinalIgnoreCase);
        var spent = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase);
        var exhausted = new List<CapReached>();
        var fleetSpent = 0m;
        var fleetUnpriced = 0;
        decimal? fleetPrice = null;

        foreach (var pool in pools.Where(p => p.IsPaid))
        {
            var price = knownPrices.TryGetValue(pool.Name, out var p) ? p : (decimal?)null;
            var mine = live.Where(r => string.Equals(r.Pool, pool.Name, StringComparison.OrdinalIgnoreCase) && !RunnerStateMachine.IsFinal(r.State)).ToList();
            var unpriced = mine.Count(r => r.HourlyPrice is null);
            var poolSpent = settledToday.GetValueOrDefault(pool.Name)
                + mine.Where(r => r.HourlyPrice is not null).Sum(r => r.CostUntil(now))
                + (unpriced * (price ?? 0));
            spent[pool.Name] = poolSpent;
            fleetSpent += poolSpent;
            fleetUnpriced += price is null ? unpriced : 0;
            fleetPrice = price is { } known ? Math.Max(fleetPrice ?? 0, known) : fleetPrice;

            if (pool.DailyBudget is { } budget)
            {
                var fits = Fits(budget, poolSpent, price, unpriced);
                allowed[pool.Name] = fits;
                if (fits == 0 && poolSpent + (price ?? 0) >= budget)
                {
                    exhausted.Add(new CapReached(pool.Name, budget, poolSpent));
                }
            }
            else
            {
                allowed[pool.Name] = null;
            }
        }

        int? fleetAllowed = null;
        if (fleetBudget is { } cap && spent.Count > 0)
        {
            fleetAllowed = Fits(cap, fleetSpent, fleetPrice, fleetUnpriced);
            if (fleetAllowed == 0 && fleetSpent + (fleetPrice ?? 0) >= cap)
            {
                exhausted.Add(new CapReached(null, cap, fleetSpent));
            }
        }

        return new SpendingVerdict(allowed, fleetAllowed, spent, exhausted);
    }

    /// <summary>How many more one-hour runners fit under <paramref name="budget"/>.</summary>
    private static int Fits(decimal budget, decimal spent, decimal? price, int unpriced)
    {
        if (spent >= budget)
        {
            return 0;
        }

        if (price is not { } known || known <= 0)
        {
            // Price unknown until the first server reports it: one at a time.
            return unpriced > 0 ? 0 : 1;
        }

        return (int)Math.Min(int.MaxValue, Math.Floor((budget - spent) / known));
    }
}

/// <summary>What the caps allow now: new paid runners per pool (null: no cap) and for the fleet.</summary>
internal sealed record SpendingVerdict(
    IReadOnlyDictionary<string, int?> PoolAllowed,
    int? FleetAllowed,
    IReadOnlyDictionary<string, decimal> SpentToday,
    IReadOnlyList<CapReached> Reached)
{
    public static readonly SpendingVerdict None = new(new Dictionary<string, int?>(), null, new Dictionary<string, decimal>(), []);

    /// <summary>Paid pools whose cap (or the fleet's) is spent for today; their demand goes to their overflow pools.</summary>
    public IEnumerable<string> Blocked(IEnumerable<PoolDefinition> pools) =>
        pools.Where(p => p.IsPaid && Reached.Any(c => c.Pool is null || string.Equals(c.Pool, p.Name, StringComparison.OrdinalIgnoreCase))).Select(p => p.Name);
}

/// <summary>A cap that is spent: a pool's, or the fleet's when <see cref="Pool"/> is null.</summary>
internal sealed record CapReached(string? Pool, decimal Budget, decimal Spent);
