using System.IO.Compression;
using System.Xml.Linq;
using Npgsql;
using StatusData.Testing;
using StatusData.Testing.Internal;

namespace StatusData.Tests.Packaging;

/// <summary>
/// samples/StatusData.Testing.Sample, an app's xunit test project, run as an app would run it: on a copy outside
/// the repository, restoring StatusData.Testing (with StatusData and StatusData.Migrations) from a local folder
/// feed of freshly packed packages, with its server named by STATUSDATA_TEST_CONNECTION as an app's CI would.
/// </summary>
[Trait("Category", "Slow")] // dotnet pack of three packages and dotnet test of the sample, about a minute
public sealed class SamplePackageTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("statusdata-sample-").FullName;

    [Fact]
    public async Task TheSampleAppsTestsPassOnThePackedTestingPackage()
    {
        // A unique version: the NuGet cache would otherwise serve an older build of the same version.
        var version = $"0.0.0-sample.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var feed = await LocalFeed.PackAsync(_work, version, "StatusData", "StatusData.Migrations", "StatusData.Testing");

        // Three dependencies, no test framework (issue 23), its own readme and docs.
        using (var archive = ZipFile.OpenRead(Path.Combine(feed, $"StatusData.Testing.{version}.nupkg")))
        {
            var entries = archive.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("lib/net10.0/StatusData.Testing.dll", entries);
            Assert.Contains("lib/net10.0/StatusData.Testing.xml", entries);
            Assert.Contains("PACKAGE.md", entries);
            await using var stream = await archive.GetEntry("StatusData.Testing.nuspec")!.OpenAsync(Ct);
            var nuspec = await XDocument.LoadAsync(stream, LoadOptions.None, Ct);
            var ns = nuspec.Root!.GetDefaultNamespace();
            var dependencies = nuspec.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")! + " " + (string)d.Attribute("version")!).Order().ToList();
            Assert.Equal([$"StatusData {version}", $"StatusData.Migrations {version}", "Testcontainers.PostgreSql 4.16.0"], dependencies);
        }

        var sample = Path.Combine(_work, "sample");
        CopySample(Path.Combine(Repository.Root, "samples", "StatusData.Testing.Sample"), sample);
        await File.WriteAllTextAsync(Path.Combine(sample, "nuget.config"), NugetConfigWithFeed(feed), Ct);

        var server = (await SharedPostgres.GetAsync()).Server.AdminConnectionString;
        var before = await OwnDatabasesAsync(server);
        var results = Path.Combine(_work, "results");
        var run = await ChildProcess.RunAsync(
            "dotnet",
            ["test", $"-p:StatusDataVersion={version}", "--logger", "trx", "--results-directory", results],
            TimeSpan.FromMinutes(6),
            [new(StatusDataTestServerOptions.ConnectionStringVariable, server)],
            workingDirectory: sample,
            cancellationToken: Ct);

        Assert.True(run.ExitCode == 0, run.ToString());
        var counters = Directory.EnumerateFiles(results, "*.trx", SearchOption.AllDirectories)
            .Select(trx => XDocument.Load(trx).Descendants().Single(e => e.Name.LocalName == "Counters"))
            .Single();
        Assert.Equal(("3", "0"), ((string)counters.Attribute("passed")!, (string)counters.Attribute("failed")!));

        // The sample's process dropped its databases and its template when it exited: no database of a process that is
        // gone is left. (Databases of processes still running are not leftovers: child test runs of this suite, e.g.
        // DapperHostSettingsTests' probe, take their databases from StatusData.Testing on this server too.)
        var left = (await OwnDatabasesAsync(server)).Except(before)
            .Where(name => Ownership.OwnerOf(name) is { } owner && owner != Environment.ProcessId && Ownership.IsGone(owner))
            .Where(name => name.Split('_')[3] != "0") // the fake leftovers of StatusDataTestingTests, running in parallel
            .ToList();
        Assert.Empty(left);
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static void CopySample(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar)[0] is "bin" or "obj")
            {
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(to, relative))!);
            File.Copy(file, Path.Combine(to, relative));
        }
    }

    /// <summary>The repository's own package sources (nuget.config), with the local feed first.</summary>
    private static string NugetConfigWithFeed(string feed)
    {
        var sources = XDocument.Load(Path.Combine(Repository.Root, "nuget.config")).Descendants("packageSources").Single().Elements("add");
        var config = new XDocument(new XElement(
            "configuration",
            new XElement(
                "packageSources",
                new XElement("clear"),
                new XElement("add", new XAttribute("key", "local"), new XAttribute("value", feed)),
                sources)));
        return config.ToString();
    }

    private static async Task<List<string>> OwnDatabasesAsync(string server)
    {
        await using var dataSource = NpgsqlDataSource.Create(server);
        return await Sql.ColumnAsync<string>(dataSource, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", Ownership.HostPrefix);
    }
}
