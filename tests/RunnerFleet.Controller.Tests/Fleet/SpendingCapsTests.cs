using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Fleet;

public sealed class SpendingCapsTests
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static PoolDefinition Paid(string name, decimal? budget = null) => new()
    {
        Name = name, Labels = ["self-hosted", "arm64"], Provider = "hetzner", Traits = new ProviderTraits { BillsPerHour = true }, DailyBudget = budget,
    };

    private static PoolDefinition Free(string name, decimal? budget = null) => new()
    {
        Name = name, Labels = ["self-hosted", "x64"], Provider = "docker", DailyBudget = budget,
    };

    private static RunnerRecord Live(string pool, decimal? price, TimeSpan age) => new()
    {
        Id = Guid.NewGuid().ToString("N"), Name = $"r-{Guid.NewGuid():N}", Pool = pool, Provider = "hetzner", Scope = "octo/app",
        State = RunnerState.Busy, RequestedAt = s_now - age, CreatedAt = s_now - age, HourlyPrice = price,
    };

    private static Dictionary<string, decimal> Prices(params (string Pool, decimal Price)[] prices) => prices.ToDictionary(p => p.Pool, p => p.Price);

    [Fact]
    public void Without_caps_everything_is_allowed_and_cost_is_still_counted()
    {
        var v = SpendingCaps.Evaluate([Paid("cax")], null, new Dictionary<string, decimal> { ["cax"] = 0.5m }, [Live("cax", 0.01m, TimeSpan.FromMinutes(90))], Prices(("cax", 0.01m)), s_now);

        Assert.Null(v.PoolAllowed["cax"]);
        Assert.Null(v.FleetAllowed);
        Assert.Empty(v.Reached);
        Assert.Equal(0.52m, v.SpentToday["cax"]); // settled 0.50 + two started hours of the live server
    }

    [Fact]
    public void A_pool_cap_allows_as_many_first_hours_as_fit_under_it()
    {
        var v = SpendingCaps.Evaluate([Paid("cax", 0.10m)], null, new Dictionary<string, decimal> { ["cax"] = 0.04m }, [Live("cax", 0.01m, TimeSpan.FromMinutes(10))], Prices(("cax", 0.01m)), s_now);

        Assert.Equal(5, v.PoolAllowed["cax"]); // 0.10 − (0.04 + 0.01) = 0.05 → five more one-hour servers
        Assert.Empty(v.Blocked([Paid("cax", 0.10m)]));
    }

    [Fact]
    public void A_spent_pool_cap_blocks_the_pool_and_is_reported()
    {
        var pools = new[] { Paid("cax", 0.05m), Paid("cpx") };
        var v = SpendingCaps.Evaluate(pools, null, new Dictionary<string, decimal> { ["cax"] = 0.05m }, [], Prices(("cax", 0.01m)), s_now);

        Assert.Equal(0, v.PoolAllowed["cax"]);
        Assert.Equal(["cax"], v.Blocked(pools));
        var reached = Assert.Single(v.Reached);
        Assert.Equal(("cax", 0.05m, 0.05m), (reached.Pool, reached.Budget, reached.Spent));
    }

    [Fact]
    public void A_cap_with_less_than_one_hour_left_blocks_the_next_server()
    {
        var v = SpendingCaps.Evaluate([Paid("cax", 0.05m)], null, new Dictionary<string, decimal> { ["cax"] = 0.045m }, [], Prices(("cax", 0.01m)), s_now);

        Assert.Equal(0, v.PoolAllowed["cax"]);
        Assert.Single(v.Reached);
    }

    [Fact]
    public void With_no_known_price_the_pool_gets_one_server_at_a_time_without_being_blocked()
    {
        var pools = new[] { Paid("cax", 1m) };
        var first = SpendingCaps.Evaluate(pools, null, new Dictionary<string, decimal>(), [], Prices(), s_now);
        var whileUnpriced = SpendingCaps.Evaluate(pools, null, new Dictionary<string, decimal>(), [Live("cax", null, TimeSpan.FromSeconds(5))], Prices(), s_now);

        Assert.Equal(1, first.PoolAllowed["cax"]);
        Assert.Equal(0, whileUnpriced.PoolAllowed["cax"]);
        Assert.Empty(whileUnpriced.Reached);
        Assert.Empty(whileUnpriced.Blocked(pools));
    }

    [Fact]
    public void The_fleet_cap_counts_every_paid_pool_and_blocks_them_all()
    {
        var pools = new[] { Paid("cax"), Paid("cpx"), Free("docker") };
        var v = SpendingCaps.Evaluate(pools, 0.10m, new Dictionary<string, decimal> { ["cax"] = 0.06m, ["cpx"] = 0.04m }, [], Prices(("cax", 0.01m)), s_now);

        Assert.Equal(0, v.FleetAllowed);
        Assert.Equal(["cax", "cpx"], v.Blocked(pools).Order());
        Assert.Null(Assert.Single(v.Reached).Pool);
    }

    [Fact]
    public void Free_pools_are_never_capped()
    {
        var pools = new[] { Free("docker", 0.01m) };
        var v = SpendingCaps.Evaluate(pools, 0.01m, new Dictionary<string, decimal>(), [], Prices(), s_now);

        Assert.Empty(v.PoolAllowed);
        Assert.Null(v.FleetAllowed);
        Assert.Empty(v.Blocked(pools));
    }
}
