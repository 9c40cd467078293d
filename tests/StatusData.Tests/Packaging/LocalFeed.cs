namespace StatusData.Tests.Packaging;

/// <summary>Packs this repository's packages into a folder that serves as a NuGet feed, as a consumer would restore them.</summary>
internal static class LocalFeed
{
    /// <summary>
    /// Packs <paramref name="projects"/> (under src/) into <c>feed</c> below <paramref name="work"/>, each with
    /// <paramref name="version"/>: unique per run, or the NuGet cache would serve an older build of the same version.
    /// </summary>
    /// <returns>The feed folder.</returns>
    public static async Task<string> PackAsync(string work, string version, params string[] projects)
    {
        var feed = Directory.CreateDirectory(Path.Combine(work, "feed")).FullName;
        foreach (var project in projects)
        {
            var pack = await ChildProcess.RunAsync(
                "dotnet",
                ["pack", Path.Combine(Repository.Root, "src", project, project + ".csproj"), "-c", "Release", "-o", feed, $"-p:Version={version}", "-p:ContinuousIntegrationBuild=true"],
                TimeSpan.FromMinutes(5),
                workingDirectory: Repository.Root,
                cancellationToken: Ct);
            Assert.True(pack.ExitCode == 0, pack.ToString());
        }

        return feed;
    }
}
