using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Fleet;

public sealed class PoolBackoffTests
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Waits_double_after_each_failure_up_to_the_maximum_and_reset_on_success()
    {
        var b = new PoolBackoff();

        Assert.False(b.IsWaiting("p", s_now));
        Assert.Equal(TimeSpan.FromSeconds(5), b.Failed("p", s_now));
        Assert.True(b.IsWaiting("p", s_now.AddSeconds(4)));
        Assert.False(b.IsWaiting("p", s_now.AddSeconds(5)));
        Assert.False(b.IsWaiting("other", s_now));
        Assert.Equal(TimeSpan.FromSeconds(10), b.Failed("p", s_now));
        Assert.Equal(TimeSpan.FromSeconds(20), b.Failed("p", s_now));
        for (var i = 0; i < 30; i++)
        {
            b.Failed("p", s_now);
        }

        Assert.Equal(PoolBackoff.Max, b.Failed("p", s_now));
        b.Succeeded("p");
        Assert.False(b.IsWaiting("p", s_now));
        Assert.Equal(TimeSpan.FromSeconds(5), b.Failed("p", s_now));
    }

    [Fact]
    public void A_lower_maximum_caps_the_wait()
    {
        var b = new PoolBackoff();
        for (var i = 0; i < 10; i++)
        {
            b.Failed("p", s_now, TimeSpan.FromSeconds(15));
        }

        Assert.Equal(TimeSpan.FromSeconds(15), b.Failed("p", s_now, TimeSpan.FromSeconds(15)));
        Assert.False(b.IsWaiting("p", s_now.AddSeconds(15)));
    }
}
