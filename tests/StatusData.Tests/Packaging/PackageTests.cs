using System.IO.Compression;
using System.Xml.Linq;

namespace StatusData.Tests.Packaging;

/// <summary>
/// The packages as a consumer gets them: packed, restored from a local folder feed by a tiny app
/// outside this repository that migrates an empty database at startup and then uses the library.
/// </summary>
[Trait("Category", "Slow")] // dotnet pack and dotnet run of a consumer app, about 20 s
public sealed class PackageTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("statusdata-package-").FullName;

    [Fact]
    public async Task APackedPackageWorksInAConsumerProjectFromALocalFeed()
    {
        // A unique version: the NuGet cache would otherwise serve an older build of the same version.
        var version = $"0.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var feed = await LocalFeed.PackAsync(_work, version, "StatusData", "StatusData.Migrations", "StatusData.Migrations.Tool");

        var nupkg = Path.Combine(feed, $"StatusData.{version}.nupkg");
        Assert.True(File.Exists(Path.Combine(feed, $"StatusData.{version}.snupkg")), "symbols package missing");
        using (var archive = ZipFile.OpenRead(nupkg))
        {
            var entries = archive.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("lib/net10.0/StatusData.dll", entries);
            Assert.Contains("lib/net10.0/StatusData.xml", entries);
            Assert.Contains("PACKAGE.md", entries);
            await using var nuspecStream = await archive.GetEntry("StatusData.nuspec")!.OpenAsync(Ct);
            var nuspec = await XDocument.LoadAsync(nuspecStream, LoadOptions.None, Ct);
            var ns = nuspec.Root!.GetDefaultNamespace();
            Assert.Equal("PACKAGE.md", nuspec.Root.Element(ns + "metadata")!.Element(ns + "readme")!.Value);
            Assert.NotNull(nuspec.Root.Element(ns + "metadata")!.Element(ns + "repository")!.Attribute("commit"));

            // Rows are mapped by Dapper over Npgsql (docs/library.md); the rest is DI, options and the health check.
            var dependencies = nuspec.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).Order().ToList();
            Assert.Equal(["Dapper", "Microsoft.Extensions.DependencyInjection.Abstractions", "Microsoft.Extensions.Diagnostics.HealthChecks", "Microsoft.Extensions.Options", "Npgsql"], dependencies);
            Assert.Equal("2.1.86", (string)nuspec.Descendants(ns + "dependency").Single(d => (string)d.Attribute("id")! == "Dapper").Attribute("version")!);
        }

        // The migrations library brings FluentMigrator, not the command line: no System.CommandLine, no exe, not a tool.
        using (var archive = ZipFile.OpenRead(Path.Combine(feed, $"StatusData.Migrations.{version}.nupkg")))
        {
            var entries = archive.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("lib/net10.0/StatusData.Migrations.dll", entries);
            Assert.DoesNotContain(entries, e => e.StartsWith("tools/", StringComparison.Ordinal) || e.EndsWith(".exe", StringComparison.Ordinal));
            var nuspec = await ReadNuspecAsync(archive, "StatusData.Migrations.nuspec");
            var ns = nuspec.Root!.GetDefaultNamespace();
            var dependencies = nuspec.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).ToList();
            Assert.Contains("FluentMigrator.Runner.Postgres", dependencies);
            Assert.Contains("Npgsql", dependencies);
            Assert.DoesNotContain("System.CommandLine", dependencies);
            Assert.Empty(nuspec.Descendants(ns + "packageType"));
        }

        // The tool package is the statusdata-migrate command.
        using (var archive = ZipFile.OpenRead(Path.Combine(feed, $"statusdata-migrate.{version}.nupkg")))
        {
            Assert.Contains("tools/net10.0/any/statusdata-migrate.dll", archive.Entries.Select(e => e.FullName));
            var nuspec = await ReadNuspecAsync(archive, "statusdata-migrate.nuspec");
            var ns = nuspec.Root!.GetDefaultNamespace();
            Assert.Equal("DotnetTool", (string)nuspec.Descendants(ns + "packageType").Single().Attribute("name")!);
        }

        var app = Directory.CreateDirectory(Path.Combine(_work, "consumer")).FullName;
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """, Ct);
        await File.WriteAllTextAsync(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="StatusData" Version="{version}" />
                <PackageReference Include="StatusData.Migrations" Version="{version}" />
                <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.0" />
              </ItemGroup>
            </Project>
            """, Ct);
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
            using Microsoft.Extensions.DependencyInjection;
            using Npgsql;
            using StatusData;
            using StatusData.Migrations;

            await using var services = new ServiceCollection()
                .AddStatusData(args[0])
                .AddStatusDataMigrations(args[0])
                .BuildServiceProvider();
            var migrated = await services.MigrateStatusDataAsync();
            Console.WriteLine($"migrated={migrated.Steps.Count}");

            var users = services.GetRequiredService<IUserRepository>();
            var statusUpdates = services.GetRequiredService<IStatusUpdateRepository>();
            var user = await users.CreateAsync("consumer", "Consumer", "consumer@example.com", "hash");
            var posted = await statusUpdates.PostAsync(user.Id, "hello from a package", "packaging", xpAward: 12);
            var feed = await statusUpdates.GetFeedAsync(limit: 10);
            Console.WriteLine($"xp={posted.Author.Xp} streak={posted.Author.CurrentStreak} feed={feed.Items.Count} first={feed.Items[0].StatusUpdate.Message}");
            """, Ct);

        var empty = await (await SharedPostgres.GetAsync()).CreateEmptyAsync("package", Ct);
        var run = await ChildProcess.RunAsync("dotnet", ["run", "--", empty], TimeSpan.FromMinutes(5), workingDirectory: app, cancellationToken: Ct);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("migrated=2", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("xp=12 streak=1 feed=1 first=hello from a package", run.Stdout, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static async Task<XDocument> ReadNuspecAsync(ZipArchive archive, string name)
    {
        await using var stream = await archive.GetEntry(name)!.OpenAsync(Ct);
        return await XDocument.LoadAsync(stream, LoadOptions.None, Ct);
    }
}
