using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using DotNet.Testcontainers.Configurations;
using Npgsql;
using StatusData.Migrations;
using StatusData.Testing;
using StatusData.Testing.Internal;

namespace StatusData.Tests.Testing;

/// <summary>
/// The StatusData.Testing package as an app's tests use it, on this run's server: the one line, isolation,
/// reset, dropping what it created, and cleaning up after a killed process (databases always; containers when
/// the run has a container engine).
/// </summary>
public sealed class StatusDataTestingTests
{
    private static readonly SemaphoreSlim EnvironmentGate = new(1, 1);

    [Fact]
    public async Task OneLineGivesAFreshDatabaseAtTheLatestVersionWhereStatusDataWorks()
    {
        await UseThisRunsServerForTheSharedOneAsync();

        await using var db = await StatusDataTestDatabase.CreateAsync(Ct);

        Assert.StartsWith($"sdt_{Ownership.HostHash}_{Environment.ProcessId}_", db.Name, StringComparison.Ordinal);
        Assert.Equal(db.Name, new NpgsqlConnectionStringBuilder(db.ConnectionString).Database);
        Assert.Equal(db.Name, await Sql.ScalarAsync<string>(db.DataSource, "SELECT current_database()"));
        var latest = new StatusDataMigrator(db.ConnectionString).LatestVersion;
        Assert.Equal(latest, await Sql.ScalarAsync<long>(db.DataSource, "SELECT max(version) FROM version_info"));
        Assert.All(await new StatusDataMigrator(db.ConnectionString).GetStatusAsync(Ct), m => Assert.Equal(MigrationState.Applied, m.State));

        var user = await db.Database.Users.CreateAsync("ada", "Ada", "ada@example.com", "hash", cancellationToken: Ct);
        var posted = await db.Database.StatusUpdates.PostAsync(user.Id, "hello", "testing", xpAward: 7, cancellationToken: Ct);
        Assert.Equal(7, posted.Author.Xp);
        Assert.Equal("hello", Assert.Single((await db.Database.StatusUpdates.GetFeedAsync(limit: 10, cancellationToken: Ct)).Items).StatusUpdate.Message);
    }

    [Fact]
    public async Task TwoDatabasesDoNotSeeEachOthersRows()
    {
        await UseThisRunsServerForTheSharedOneAsync();

        await using var first = await StatusDataTestDatabase.CreateAsync(Ct);
        await using var second = await StatusDataTestDatabase.CreateAsync(Ct);
        await first.Database.Users.CreateAsync("grace", "Grace", "grace@example.com", "hash", cancellationToken: Ct);

        Assert.NotEqual(first.Name, second.Name);
        Assert.NotNull(await first.Database.Users.GetByUsernameAsync("grace", Ct));
        Assert.Null(await second.Database.Users.GetByUsernameAsync("grace", Ct));

        // The same unique username in the other database: no users_username_key violation.
        await second.Database.Users.CreateAsync("grace", "Grace", "grace@example.com", "hash", cancellationToken: Ct);
    }

    [Fact]
    public async Task ResetEmptiesTheDataTablesAndKeepsTheSchemaAndTheVersionRows()
    {
        await UseThisRunsServerForTheSharedOneAsync();
        await using var db = await StatusDataTestDatabase.CreateAsync(Ct);
        var user = await db.Database.Users.CreateAsync("linus", "Linus", "linus@example.com", "hash", cancellationToken: Ct);
        await db.Database.StatusUpdates.PostAsync(user.Id, "before the reset", "testing", xpAward: 1, cancellationToken: Ct);
        var versions = await Sql.ColumnAsync<long>(db.DataSource, "SELECT version FROM version_info ORDER BY version");
        var alembic = await Sql.ColumnAsync<string>(db.DataSource, "SELECT version_num FROM alembic_version");
        Assert.NotEmpty(versions);
        Assert.NotEmpty(alembic);

        await db.ResetAsync(Ct);

        Assert.Equal((0, 0), await Sql.CountsAsync(db.DataSource));
        Assert.Equal(versions, await Sql.ColumnAsync<long>(db.DataSource, "SELECT version FROM version_info ORDER BY version"));
        Assert.Equal(alembic, await Sql.ColumnAsync<string>(db.DataSource, "SELECT version_num FROM alembic_version"));

        // The schema is whole: the same username again, and the library's writes work.
        var again = await db.Database.Users.CreateAsync("linus", "Linus", "linus@example.com", "hash", cancellationToken: Ct);
        var posted = await db.Database.StatusUpdates.PostAsync(again.Id, "after the reset", "testing", xpAward: 2, cancellationToken: Ct);
        Assert.Equal(2, posted.Author.Xp);
    }

    [Fact]
    public async Task DisposingADatabaseDropsIt()
    {
        await UseThisRunsServerForTheSharedOneAsync();
        var db = await StatusDataTestDatabase.CreateAsync(Ct);
        Assert.True(await ExistsAsync(db.Name));

        // A connection of the app's own left open: WITH (FORCE) ends it.
        await using var open = new NpgsqlConnection(db.ConnectionString);
        await open.OpenAsync(Ct);
        await db.DisposeAsync();

        Assert.False(await ExistsAsync(db.Name));
    }

    [Fact]
    public async Task AServerNamedByConnectionStringClonesFromItsTemplateAndDisposingItDropsEverything()
    {
        var admin = await HarnessAdminConnectionStringAsync();
        string template;
        StatusDataTestDatabase notDisposed;
        await using (var server = await StatusDataTestServer.StartAsync(new StatusDataTestServerOptions { ConnectionString = admin }, Ct))
        {
            Assert.Equal(admin, server.AdminConnectionString);
            template = server.TemplateName;
            Assert.True(await ExistsAsync(template));

            notDisposed = await server.CreateDatabaseAsync(Ct);

            // The next copy is made ahead, in the background: the template, the database handed out, and the spare.
            var own = template[..^"template".Length];
            var clock = Stopwatch.StartNew();
            while ((await DatabaseCommands.ListAsync(admin, own, Ct)).Count < 3)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "no copy was made ahead of the next call");
                await Task.Delay(50, Ct);
            }

            var spare = Assert.Single(await DatabaseCommands.ListAsync(admin, own, Ct), n => n != template && n != notDisposed.Name);
            await using (var disposed = await server.CreateDatabaseAsync(Ct))
            {
                Assert.NotEqual(notDisposed.Name, disposed.Name);
                Assert.Equal(spare, disposed.Name); // the spare is what the next call got
                await disposed.Database.Users.CreateAsync("ken", "Ken", "ken@example.com", "hash", cancellationToken: Ct);
                Assert.Equal(1, await Sql.ScalarAsync<long>(disposed.DataSource, "SELECT count(*) FROM users"));
            }

            Assert.Equal((0, 0), await Sql.CountsAsync(notDisposed.DataSource));
        }

        Assert.False(await ExistsAsync(template));
        Assert.False(await ExistsAsync(notDisposed.Name));
        Assert.Empty(await DatabaseCommands.ListAsync(admin, template[..^"template".Length], Ct)); // nor the spare made after the last call
        await notDisposed.DisposeAsync(); // after its server: nothing left to drop, and no error
    }

    [Fact]
    public async Task DatabasesOfAProcessOfThisHostThatIsGoneAreDroppedOnTheNextStart()
    {
        var admin = await HarnessAdminConnectionStringAsync();
        var gone = await GoneProcessIdAsync();
        // Server number 0, which no real server has: SamplePackageTests, running in parallel, tells them from its child's.
        var leftovers = new[] { $"{Ownership.HostPrefix}{gone}_0_3", $"{Ownership.HostPrefix}{gone}_0_template" };

        // Not to be touched: a process that still runs (pid 1), and another host's process of the same pid.
        var kept = new[] { $"{Ownership.HostPrefix}1_0_1", $"sdt_{Ownership.Hash("another-host")}_{gone}_0_1" };
        foreach (var name in leftovers.Concat(kept))
        {
            await AdminAsync(admin, $"CREATE DATABASE {name}");
        }

        try
        {
            await using (await StatusDataTestServer.StartAsync(new StatusDataTestServerOptions { ConnectionString = admin }, Ct))
            {
                foreach (var name in leftovers)
                {
                    Assert.False(await ExistsAsync(name), $"{name} was left behind");
                }

                foreach (var name in kept)
                {
                    Assert.True(await ExistsAsync(name), $"{name} was dropped");
                }
            }
        }
        finally
        {
            foreach (var name in leftovers.Concat(kept))
            {
                await AdminAsync(admin, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            }
        }
    }

    [Fact]
    [Trait("Category", "Slow")] // starts a container, 2-5 s
    public async Task ContainersOfAProcessOfThisHostThatIsGoneAreRemovedOnTheNextStart()
    {
        Assert.SkipUnless(
            Environment.GetEnvironmentVariable(PostgresServers.ModeVariable) == "container",
            "needs a container engine: scripts/test.sh sets STATUSDATA_TEST_SERVER=container when it has one");
        using var docker = TestcontainersSettings.OS.DockerEndpointAuthConfig!.GetDockerClientBuilder().Build();
        var image = ContainerPostgresServer.ConfiguredImage;
        var gone = await GoneProcessIdAsync();

        // Created, never started: all a sweep needs to see.
        var leftover = await docker.Containers.CreateContainerAsync(new CreateContainerParameters { Image = image, Labels = Labels(Ownership.HostName, gone) }, Ct);
        var alive = await docker.Containers.CreateContainerAsync(new CreateContainerParameters { Image = image, Labels = Labels(Ownership.HostName, 1) }, Ct);
        try
        {
            // This process may own a container already: the harness's shared server is started by this package too.
            var before = (await ListAsync(docker, "label", $"{ContainerSweep.ProcessLabel}={Environment.ProcessId}")).Select(c => c.ID).ToList();
            var options = new StatusDataTestServerOptions { ConnectionString = null, Image = image, ConfigureContainer = b => b.WithCommand("-c", "max_connections=123") };
            await using (var server = await StatusDataTestServer.StartAsync(options, Ct))
            {
                Assert.Empty(await ListAsync(docker, "id", leftover.ID));
                Assert.Single(await ListAsync(docker, "id", alive.ID));

                var own = Assert.Single(await ListAsync(docker, "label", $"{ContainerSweep.ProcessLabel}={Environment.ProcessId}"), c => !before.Contains(c.ID));
                Assert.Equal(Labels(Ownership.HostName, Environment.ProcessId), own.Labels.Where(l => l.Key.StartsWith(ContainerSweep.Label, StringComparison.Ordinal)).ToDictionary());
                var bindings = (await docker.Containers.InspectContainerAsync(own.ID, Ct)).HostConfig!.PortBindings!.Values.SelectMany(b => b).ToList();
                Assert.NotEmpty(bindings);
                Assert.All(bindings, b => Assert.Equal("127.0.0.1", b.HostIP));

                await using var db = await server.CreateDatabaseAsync(Ct);
                Assert.NotNull(await db.Database.Users.CreateAsync("barbara", "Barbara", "barbara@example.com", "hash", cancellationToken: Ct));
                Assert.Equal("123", await Sql.ScalarAsync<string>(db.DataSource, "SHOW max_connections")); // ConfigureContainer applied
            }

            Assert.Equal(before, (await ListAsync(docker, "label", $"{ContainerSweep.ProcessLabel}={Environment.ProcessId}")).Select(c => c.ID).ToList());
        }
        finally
        {
            foreach (var id in new[] { leftover.ID, alive.ID })
            {
                try
                {
                    await docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
                }
                catch (DockerContainerNotFoundException)
                {
                }
            }
        }
    }

    /// <summary>
    /// The package's shared server reads STATUSDATA_TEST_CONNECTION, as an app's CI would set it: here, this run's
    /// server, so that the one-line tests work whether the run has a container engine or the local binaries.
    /// </summary>
    private static async Task UseThisRunsServerForTheSharedOneAsync()
    {
        var admin = await HarnessAdminConnectionStringAsync();
        await EnvironmentGate.WaitAsync(Ct);
        try
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(StatusDataTestServerOptions.ConnectionStringVariable)))
            {
                Environment.SetEnvironmentVariable(StatusDataTestServerOptions.ConnectionStringVariable, admin);
            }
        }
        finally
        {
            EnvironmentGate.Release();
        }
    }

    private static async Task<string> HarnessAdminConnectionStringAsync() =>
        (await SharedPostgres.GetAsync()).Server.AdminConnectionString;

    private static async Task<bool> ExistsAsync(string database)
    {
        await using var dataSource = NpgsqlDataSource.Create(await HarnessAdminConnectionStringAsync());
        return await Sql.ScalarAsync<bool>(dataSource, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", database);
    }

    private static async Task AdminAsync(string admin, string sql)
    {
        await using var dataSource = NpgsqlDataSource.Create(admin);
        await Sql.ExecuteAsync(dataSource, sql);
    }

    /// <summary>The pid of a process that ran on this host and has ended.</summary>
    private static async Task<int> GoneProcessIdAsync()
    {
        using var process = Process.Start("true")!;
        await process.WaitForExitAsync(Ct);
        return process.Id;
    }

    private static Dictionary<string, string> Labels(string host, int pid) => new()
    {
        [ContainerSweep.Label] = "true",
        [ContainerSweep.HostLabel] = host,
        [ContainerSweep.ProcessLabel] = pid.ToString(CultureInfo.InvariantCulture),
    };

    private static async Task<IList<ContainerListResponse>> ListAsync(DockerClient docker, string filter, string value) =>
        await docker.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { [filter] = new Dictionary<string, bool> { [value] = true } } },
            Ct);
}
