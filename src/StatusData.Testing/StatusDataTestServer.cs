using System.Collections.Concurrent;
using DotNet.Testcontainers.Builders;
using Npgsql;
using StatusData.Migrations;
using StatusData.Testing.Internal;
using Testcontainers.PostgreSql;

namespace StatusData.Testing;

/// <summary>
/// A PostgreSQL server for tests, with a template database migrated once with StatusData's own
/// <see cref="StatusDataMigrator"/>: every <see cref="CreateDatabaseAsync"/> is <c>CREATE DATABASE … TEMPLATE</c>
/// of it, a fresh database at the latest schema without running a migration. The server is PostgreSQL in a container
/// (Testcontainers.PostgreSql, published on 127.0.0.1 only) or one the developer names
/// (<see cref="StatusDataTestServerOptions"/>).
/// </summary>
/// <remarks>
/// Most tests need only <see cref="StatusDataTestDatabase.CreateAsync"/>, which uses <see cref="SharedAsync"/>.
/// Nothing is left behind by a killed test process: its containers are labelled with host and pid, its
/// databases are named after them, and the next start on the same host removes those whose process is gone.
/// </remarks>
public sealed class StatusDataTestServer : IAsyncDisposable
{
    private static readonly Lock SharedLock = new();
    private static Task<StatusDataTestServer>? _sharedStart;
    private static bool _stopsAtExit;
    private static int _servers;

    private readonly PostgreSqlContainer? _container;
    private readonly int _number = Interlocked.Increment(ref _servers);
    private readonly ConcurrentDictionary<string, bool> _databases = new();

    // CREATE DATABASE … TEMPLATE fails while another session is connected to the template, and a copy in
    // progress is such a session: one copy at a time in this process.
    private readonly SemaphoreSlim _createGate = new(1, 1);

    // A copy costs 0.2-0.3 s, nearly all of it CREATE DATABASE copying the system catalogs (docs/testing.md), so
    // the next one is made in the background while the test that got the last one runs: a test that takes longer
    // than a copy gets its database at once. At most one is made ahead.
    private readonly Lock _spareLock = new();
    private Task<string>? _spare;
    private int _counter;
    private int _disposed;

    private StatusDataTestServer(string adminConnectionString, PostgreSqlContainer? container)
    {
        AdminConnectionString = adminConnectionString;
        _container = container;
        TemplateName = Ownership.TemplateName(_number);
    }

    /// <summary>
    /// A connection string for the server as the user who creates the databases: the container's superuser,
    /// or <see cref="StatusDataTestServerOptions.ConnectionString"/> as given.
    /// </summary>
    public string AdminConnectionString { get; }

    internal string TemplateName { get; }

    /// <summary>
    /// Starts a server of its own: PostgreSQL in a container, or the server the options (or
    /// <c>STATUSDATA_TEST_CONNECTION</c>) name. First removes what killed test processes of this host left
    /// behind there, then builds the template database with the migrations.
    /// </summary>
    /// <param name="options">Where PostgreSQL comes from; <see langword="null"/>: the environment's settings, else a <c>postgres:15</c> container.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The server; dispose it to drop its databases and remove its container.</returns>
    /// <exception cref="InvalidOperationException">No connection string was given and no container engine answers.</exception>
    public static async Task<StatusDataTestServer> StartAsync(StatusDataTestServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new StatusDataTestServerOptions();
        StatusDataTestServer server;
        if (options.ConnectionString is { } connectionString)
        {
            await DropDatabasesOfGoneProcessesAsync(connectionString, cancellationToken).ConfigureAwait(false);
            server = new StatusDataTestServer(connectionString, container: null);
        }
        else
        {
            await ContainerSweep.RemoveDeadOwnersAsync(cancellationToken).ConfigureAwait(false);
            var container = await StartContainerAsync(options.Image, options.ConfigureContainer, cancellationToken).ConfigureAwait(false);
            server = new StatusDataTestServer(container.GetConnectionString(), container);
        }

        try
        {
            await server.CreateTemplateAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The server shared by the whole test process, started with the environment's settings on first use and
    /// stopped when the process exits. <see cref="StatusDataTestDatabase.CreateAsync"/> uses it.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the start; the start itself goes on for the next caller.</param>
    /// <returns>The shared server.</returns>
    /// <remarks>
    /// Stopped from <see cref="AppDomain.ProcessExit"/>: the one end-of-run hook that the test hosts of xunit, NUnit
    /// and MSTest all raise, where each framework's own (assembly fixtures, SetUpFixture, AssemblyCleanup) would tie
    /// the package to one of them. A process that is killed raises nothing; the next start on the host cleans up.
    /// </remarks>
    public static Task<StatusDataTestServer> SharedAsync(CancellationToken cancellationToken = default)
    {
        Task<StatusDataTestServer> start;
        lock (SharedLock)
        {
            // A start that failed is tried again by the next caller; one cancelled caller never cancels it.
            if (_sharedStart is null || _sharedStart.IsFaulted || _sharedStart.IsCanceled)
            {
                _sharedStart = StartAsync(options: null, CancellationToken.None);
                if (!_stopsAtExit)
                {
                    AppDomain.CurrentDomain.ProcessExit += StopSharedAtExit;
                    _stopsAtExit = true;
                }
            }

            start = _sharedStart;
        }

        return start.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Creates a fresh database at the latest schema, a copy of the template. The copy made ahead in the background
    /// after the previous call is handed out if there is one, and the next is started.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting; a copy already under way is kept for the next call.</param>
    /// <returns>The database; dispose it to drop it.</returns>
    public async Task<StatusDataTestDatabase> CreateDatabaseAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Task<string> copy;
        lock (_spareLock)
        {
            copy = _spare ?? CopyAsync();
            _spare = null;
        }

        string name;
        try
        {
            name = await copy.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            lock (_spareLock)
            {
                _spare ??= copy;
            }

            throw;
        }

        lock (_spareLock)
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                _spare ??= CopyAsync();
            }
        }

        return new StatusDataTestDatabase(this, name, ConnectionStringFor(name));
    }

    /// <summary>Copies the template to a new database, whoever waits for it (never cancelled: a caller's token only stops its wait).</summary>
    private Task<string> CopyAsync() => Task.Run(async () =>
    {
        var name = Ownership.DatabaseName(_number, Interlocked.Increment(ref _counter));

        // Recorded first: a copy that fails half-way, or that nobody takes, is dropped at the end too.
        _databases[name] = true;
        await _createGate.WaitAsync().ConfigureAwait(false);
        try
        {
            await DatabaseCommands.CreateAsync(AdminConnectionString, name, TemplateName, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _createGate.Release();
        }

        return name;
    });

    /// <summary>Drops every database this server created and the template, and removes the container if it started one.</summary>
    /// <returns>A task that completes when everything is gone.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (SharedLock)
        {
            if (_sharedStart is { IsCompletedSuccessfully: true } shared && shared.Result == this)
            {
                _sharedStart = null;
            }
        }

        Task<string>? spare;
        lock (_spareLock)
        {
            spare = _spare;
            _spare = null;
        }

        if (spare is not null)
        {
            // Finished before the drops below, which include it.
            try
            {
                await spare.ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                // It was never made; its name is dropped IF EXISTS below anyway.
            }
        }

        DatabaseCommands.ClearPool(AdminConnectionString);
        if (_container is not null)
        {
            // Its databases go with it.
            await _container.DisposeAsync().ConfigureAwait(false);
            return;
        }

        var failures = new List<Exception>();
        foreach (var name in _databases.Keys.Append(TemplateName))
        {
            try
            {
                await DropAsync(name, CancellationToken.None).ConfigureAwait(false);
            }
            catch (NpgsqlException e)
            {
                // The rest still go; the next start on this host drops what could not be dropped now.
                failures.Add(e);
            }
        }

        DatabaseCommands.ClearPool(AdminConnectionString);
        if (failures.Count > 0)
        {
            throw new AggregateException("Some test databases could not be dropped; the next start on this host drops them.", failures);
        }
    }

    /// <summary>Drops a database this server created, unless it is already gone (<see cref="DisposeAsync"/> drops all).</summary>
    internal async Task DropDatabaseAsync(string name, CancellationToken cancellationToken)
    {
        if (_databases.TryRemove(name, out _) && Volatile.Read(ref _disposed) == 0)
        {
            await DropAsync(name, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<PostgreSqlContainer> StartContainerAsync(string image, Func<PostgreSqlBuilder, PostgreSqlBuilder>? configure, CancellationToken cancellationToken)
    {
        PostgreSqlContainer? container = null;
        try
        {
            var builder = new PostgreSqlBuilder(image)
                .WithLabel(ContainerSweep.Label, ContainerSweep.OwnLabels[ContainerSweep.Label])
                .WithLabel(ContainerSweep.HostLabel, ContainerSweep.OwnLabels[ContainerSweep.HostLabel])
                .WithLabel(ContainerSweep.ProcessLabel, ContainerSweep.OwnLabels[ContainerSweep.ProcessLabel])

                // The published port on 127.0.0.1 only, whatever the engine's default: nothing beyond this host reaches it.
                .WithCreateParameterModifier(parameters =>
                {
                    foreach (var binding in parameters.HostConfig?.PortBindings?.Values.SelectMany(b => b) ?? [])
                    {
                        binding.HostIP = "127.0.0.1";
                    }
                });
            container = (configure?.Invoke(builder) ?? builder).Build();
            await container.StartAsync(cancellationToken).ConfigureAwait(false);
            return container;
        }
        catch (DockerUnavailableException e)
        {
            if (container is not null)
            {
                await container.DisposeAsync().ConfigureAwait(false);
            }

            throw new InvalidOperationException(
                $"No container engine answers, so PostgreSQL cannot be started in a container. Start Docker, or name a server where the user may create databases with {StatusDataTestServerOptions.ConnectionStringVariable} "
                + "(or StatusDataTestServerOptions.ConnectionString), e.g. \"Host=localhost;Username=postgres;Password=secret\".",
                e);
        }
        catch
        {
            if (container is not null)
            {
                await container.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    private static async Task DropDatabasesOfGoneProcessesAsync(string adminConnectionString, CancellationToken cancellationToken)
    {
        foreach (var name in await DatabaseCommands.ListAsync(adminConnectionString, Ownership.HostPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (Ownership.OwnerOf(name) is { } owner && Ownership.IsGone(owner))
            {
                await DatabaseCommands.DropAsync(adminConnectionString, name, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static void StopSharedAtExit(object? sender, EventArgs e)
    {
        Task<StatusDataTestServer>? start;
        lock (SharedLock)
        {
            start = _sharedStart;
        }

        if (start is { IsCompletedSuccessfully: true })
        {
            // ProcessExit handlers cannot be async: wait, but not forever, for a server that may already be gone.
            try
            {
                _ = start.Result.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(30));
            }
            catch (AggregateException)
            {
                // Best effort at exit; the next start on this host removes what is left.
            }
        }
    }

    private async Task CreateTemplateAsync(CancellationToken cancellationToken)
    {
        await DatabaseCommands.CreateAsync(AdminConnectionString, TemplateName, "template0", cancellationToken).ConfigureAwait(false);

        // Unpooled, so that no idle connection to the template survives the migration: a copy fails while anyone
        // is connected to it. (StatusDataMigrator opens its connections without pooling today; this keeps it so.)
        var template = new NpgsqlConnectionStringBuilder(ConnectionStringFor(TemplateName)) { Pooling = false }.ConnectionString;
        await new StatusDataMigrator(template).UpAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private Task DropAsync(string name, CancellationToken cancellationToken) =>
        DatabaseCommands.DropAsync(AdminConnectionString, name, cancellationToken);

    private string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database }.ConnectionString;
}
