namespace RunnerFleet.Controller.Tests;

/// <summary>Finds <c>shared/reference</c> (beside the repository) from the test's output folder.</summary>
internal static class SharedReference
{
    public static string Path(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "shared", "reference");
            if (Directory.Exists(candidate))
            {
                return System.IO.Path.Combine([candidate, .. parts]);
            }
        }

        throw new DirectoryNotFoundException("shared/reference was not found above " + AppContext.BaseDirectory + "; tests expect the repository's shared/ folder beside it.");
    }
}
