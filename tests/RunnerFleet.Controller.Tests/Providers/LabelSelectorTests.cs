using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.Controller.Tests.Providers;

public sealed class LabelSelectorTests
{
    private static readonly Dictionary<string, string> s_labels = new() { ["env"] = "production", ["runnerfleet.fleet"] = "f1", ["tier"] = "" };

    [Theory]
    [InlineData("", true)]
    [InlineData("env=production", true)]
    [InlineData("env==production", true)]
    [InlineData("env=testing", false)]
    [InlineData("env!=testing", true)]
    [InlineData("env!=production", false)]
    [InlineData("tier", true)]
    [InlineData("!tier", false)]
    [InlineData("!type", true)]
    [InlineData("env in (testing,production)", true)]
    [InlineData("env notin (testing,production)", false)]
    [InlineData("env=production,runnerfleet.fleet=f1", true)]
    [InlineData("env=production,runnerfleet.fleet=f2", false)]
    [InlineData("env in (a,b),tier", false)]
    public void Matches_hetzners_label_selector_language(string selector, bool matches) =>
        Assert.Equal(matches, LabelSelector.Matches(selector, s_labels));
}
