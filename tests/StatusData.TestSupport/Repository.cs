namespace StatusData.TestSupport;

/// <summary>The checkout the tests run from.</summary>
public static class Repository
{
    /// <summary>The folder that holds StatusData.sln, found upwards from the test's output folder.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "StatusData.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("StatusData.sln not found above " + AppContext.BaseDirectory);
    }
}
