namespace RunnerFleet.Controller.Tests;

/// <summary>The project's own test data (<c>TestData/</c>, copied beside the test assembly); see TestData/SOURCE.md for where each file comes from.</summary>
internal static class TestData
{
    public static string Path(params string[] parts) => System.IO.Path.Combine([AppContext.BaseDirectory, "TestData", .. parts]);
}
