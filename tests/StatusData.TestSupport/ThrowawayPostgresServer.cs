using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace StatusData.TestSupport;

/// <summary>
/// A PostgreSQL cluster that lives for one test run: <c>initdb</c> into a fresh temporary folder,
/// listening on 127.0.0.1 on a free port and on a private unix-socket folder, with durability
/// switched off for speed. Disposing it stops the server and deletes the folder; a run that crashed
/// before doing so is cleaned up by the next one.
/// </summary>
public sealed class ThrowawayPostgresServer : IPostgresServer
{
    /// <summary>Every throwaway cluster lives in a temp folder whose name starts with this.</summary>
    public const string FolderPrefix = "statusdata-pg-";

    private const string OwnerFile = "owner.pid";

    private readonly PostgresBinaries _binaries;
    private readonly string[] _extraSettings;
    private bool _disposed;

    private ThrowawayPostgresServer(PostgresBinaries binaries, string rootDirectory, int port, params string[] extraSettings)
    {
        _binaries = binaries;
        RootDirectory = rootDirectory;
        Port = port;
        _extraSettings = extraSettings;
    }

    /// <summary>The folder holding the cluster, its socket folder and its log.</summary>
    public string RootDirectory { get; }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The folder of the server's unix socket.</summary>
    public string SocketDirectory => Path.Combine(RootDirectory, "socket");

    /// <summary>The postmaster's process id.</summary>
    public int ProcessId { get; private set; }

    /// <inheritdoc />
    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=true;Include Error Detail=true";

    /// <summary>The same server, reached through its unix socket.</summary>
    public string SocketConnectionString => $"Host={SocketDirectory};Port={Port};Username=postgres;Database=postgres";

    /// <inheritdoc />
    public string Description => $"throwaway PostgreSQL on 127.0.0.1:{Port} in {RootDirectory}";

    private string DataDirectory => Path.Combine(RootDirectory, "data");

    private string LogFile => Path.Combine(RootDirectory, "postgres.log");

    /// <summary>Starts a throwaway server from the local binaries, first cleaning up what crashed runs left behind.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running server.</returns>
    public static Task<ThrowawayPostgresServer> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync(PostgresBinaries.Find() ?? throw new InvalidOperationException("PostgreSQL server binaries (initdb, pg_ctl) not found: sudo apt-get install -y postgresql"), cancellationToken);

    internal static async Task<ThrowawayPostgresServer> StartAsync(PostgresBinaries binaries, CancellationToken cancellationToken)
    {
        await CleanUpAbandonedAsync(cancellationToken).ConfigureAwait(false);
        return await CreateAsync(
            FolderPrefix,
            // initdb and postgres refuse to run as root: the cluster belongs to the postgres OS user.
            data => RunAsync(binaries.InitDb, ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"], Environment.IsPrivilegedProcess, cancellationToken),
            (root, port) => new ThrowawayPostgresServer(binaries, root, port),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the server (immediate shutdown: nothing here needs to survive) and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            await RunAsync(_binaries.PgCtl, ["-D", DataDirectory, "-m", "immediate", "-w", "stop"], Environment.IsPrivilegedProcess, CancellationToken.None).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            KillIfPostgres(ProcessId);
        }

        TryDelete(RootDirectory);
    }

    /// <summary>
    /// Starts a streaming-replication standby of this server: <c>pg_basebackup -R</c> into a new throwaway
    /// folder (as the postgres OS user when root), on its own free port, replaying from this server over
    /// 127.0.0.1 (initdb's default pg_hba.conf trusts replication connections from there). Dispose it like
    /// any throwaway server. The standby has replayed what the primary had when the backup ended; use
    /// <see cref="WaitForReplayAsync"/> for anything written since.
    /// </summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running standby.</returns>
    public async Task<ThrowawayPostgresServer> StartStandbyAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await CreateAsync(
            FolderPrefix + "standby-",
            // -R writes standby.signal (and a primary_conninfo that StartServerAsync rewrites with the settings below).
            data => RunAsync(_binaries.PgBaseBackup, ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync"], Environment.IsPrivilegedProcess, cancellationToken),
            (root, port) => new ThrowawayPostgresServer(_binaries, root, port, $"primary_conninfo = 'host=127.0.0.1 port={Port} user=postgres application_name=statusdata_standby'", "hot_standby = on"),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A new server folder (owned by this process; by the postgres OS user when root), its data directory
    /// filled by <paramref name="createData"/>, started on a free port; the folder is deleted if anything fails.
    /// </summary>
    private static async Task<ThrowawayPostgresServer> CreateAsync(string folderPrefix, Func<string, Task> createData, Func<string, int, ThrowawayPostgresServer> server, CancellationToken cancellationToken)
    {
        var root = Path.Combine(Path.GetTempPath(), folderPrefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, OwnerFile), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(Path.Combine(root, "socket"));
        try
        {
            if (Environment.IsPrivilegedProcess)
            {
                await RunAsync("chown", ["-R", "postgres:postgres", root], asPostgres: false, cancellationToken).ConfigureAwait(false);
            }

            await createData(Path.Combine(root, "data")).ConfigureAwait(false);
            for (var attempt = 1; ; attempt++)
            {
                var started = server(root, FreePort());
                try
                {
                    await started.StartServerAsync(cancellationToken).ConfigureAwait(false);
                    return started;
                }
                catch (InvalidOperationException) when (attempt < 5)
                {
                    // Another process took the port between our probe and the server's bind: try another.
                }
            }
        }
        catch
        {
            TryDelete(root);
            throw;
        }
    }

    /// <summary>
    /// Waits until <paramref name="standby"/> has replayed everything this server had written when the
    /// call began (<c>pg_last_wal_replay_lsn() &gt;= pg_current_wal_insert_lsn()</c>: the insert position,
    /// not the write position, because throwaway servers run with synchronous_commit off, so a commit's
    /// record may not be written out yet). Polls; fails after two minutes.
    /// </summary>
    /// <param name="standby">A standby of this server.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the standby has caught up.</returns>
    public async Task WaitForReplayAsync(ThrowawayPostgresServer standby, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(standby);
        string target;
        await using (var primary = new Npgsql.NpgsqlConnection(AdminConnectionString + ";Pooling=false"))
        {
            await primary.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new Npgsql.NpgsqlCommand("SELECT pg_current_wal_insert_lsn()::text", primary);
            target = (string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        var deadline = DateTime.UtcNow.AddMinutes(2);
        await using var replica = new Npgsql.NpgsqlConnection(standby.AdminConnectionString + ";Pooling=false");
        await replica.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var check = new Npgsql.NpgsqlCommand("SELECT coalesce(pg_last_wal_replay_lsn() >= @target::pg_lsn, false)", replica);
        check.Parameters.AddWithValue("target", target);
        while (!(bool)(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The standby on port {standby.Port} did not replay up to {target} within two minutes.");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the server as an operator would (<c>pg_ctl stop -m fast</c>); dispose it afterwards as usual.</summary>
    /// <param name="cancellationToken">Cancels the stop.</param>
    /// <returns>A task that completes when the server is down.</returns>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await RunAsync(_binaries.PgCtl, ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], Environment.IsPrivilegedProcess, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Restarts the server as an operator would: <c>pg_ctl stop -m fast</c> (every client is disconnected
    /// and in-flight transactions roll back), an optional pause while it is down, then a start on the
    /// same port with the same data. For tests that prove clients recover.
    /// </summary>
    /// <param name="downtime">How long the server stays down between stop and start.</param>
    /// <param name="cancellationToken">Cancels the restart.</param>
    /// <returns>A task that completes when the server accepts connections again.</returns>
    public async Task RestartAsync(TimeSpan downtime = default, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await RunAsync(_binaries.PgCtl, ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], Environment.IsPrivilegedProcess, cancellationToken).ConfigureAwait(false);
        if (downtime > TimeSpan.Zero)
        {
            await Task.Delay(downtime, cancellationToken).ConfigureAwait(false);
        }

        await StartServerAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops and deletes throwaway clusters whose owning process is gone (a crashed or killed run).</summary>
    /// <param name="cancellationToken">Cancels the clean-up.</param>
    /// <returns>How many abandoned clusters were removed.</returns>
    public static Task<int> CleanUpAbandonedAsync(CancellationToken cancellationToken = default)
    {
        var removed = 0;
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ownerFile = Path.Combine(folder, OwnerFile);
            var owner = 0;
            var hasOwner = File.Exists(ownerFile) && int.TryParse(File.ReadAllText(ownerFile).Trim(), CultureInfo.InvariantCulture, out owner);
            if (hasOwner && Processes.IsRunning(owner))
            {
                continue;
            }

            // No owner file yet, or one still being written (empty): being created right now by another run.
            if (!hasOwner && Directory.GetLastWriteTimeUtc(folder) > DateTime.UtcNow.AddMinutes(-5))
            {
                continue;
            }

            var pidFile = Path.Combine(folder, "data", "postmaster.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), CultureInfo.InvariantCulture, out var postmaster))
            {
                KillIfPostgres(postmaster);
            }

            var bouncerPidFile = Path.Combine(folder, PgBouncerProcess.PidFileName);
            if (File.Exists(bouncerPidFile) && int.TryParse(File.ReadLines(bouncerPidFile).FirstOrDefault(), CultureInfo.InvariantCulture, out var bouncer))
            {
                KillIfNamed(bouncer, "pgbouncer");
            }

            // A pg_auto_failover cluster's folder (AutoFailoverCluster): its pg_autoctl supervisors restart
            // whatever else is killed, and its postmasters live in node folders, not data/.
            AutoFailoverCluster.KillProcesses(folder);
            TryDelete(folder);
            removed++;
        }

        return Task.FromResult(removed);
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var settings = string.Join('\n',
            "listen_addresses = '127.0.0.1'",
            $"port = {Port}",
            $"unix_socket_directories = '{SocketDirectory}'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 300",
            "shared_buffers = 128MB",
            "max_wal_size = 1GB",
            "log_min_messages = warning",
            string.Join('\n', _extraSettings),
            string.Empty);
        await File.WriteAllTextAsync(Path.Combine(DataDirectory, "postgresql.auto.conf"), settings, cancellationToken).ConfigureAwait(false);
        try
        {
            await RunAsync(_binaries.PgCtl, ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "start"], Environment.IsPrivilegedProcess, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            var log = File.Exists(LogFile) ? await File.ReadAllTextAsync(LogFile, cancellationToken).ConfigureAwait(false) : "(no log)";
            throw new InvalidOperationException($"{e.Message}\nServer log:\n{log}", e);
        }

        var pidFile = Path.Combine(DataDirectory, "postmaster.pid");
        ProcessId = int.Parse(File.ReadLines(pidFile).First(), CultureInfo.InvariantCulture);
    }

    internal static async Task RunAsync(string program, IReadOnlyList<string> arguments, bool asPostgres, CancellationToken cancellationToken)
    {
        var result = asPostgres
            ? await ChildProcess.RunAsync("runuser", ["-u", "postgres", "--", program, .. arguments], cancellationToken: cancellationToken).ConfigureAwait(false)
            : await ChildProcess.RunAsync(program, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            var hint = asPostgres ? " (run as the 'postgres' OS user, because initdb and postgres refuse root; it is created by 'apt-get install postgresql')" : string.Empty;
            throw new InvalidOperationException($"'{program} {string.Join(' ', arguments)}' exited with {result.ExitCode}{hint}:\n{result.Stdout}{result.Stderr}");
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void KillIfPostgres(int pid) => KillIfNamed(pid, "postgres");

    internal static void KillIfNamed(int pid, string processNamePrefix)
    {
        if (!Processes.IsRunning(pid))
        {
            return;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.ProcessName.StartsWith(processNamePrefix, StringComparison.Ordinal))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (ArgumentException)
        {
            // Already gone.
        }
        catch (InvalidOperationException)
        {
            // Exited while we looked at it.
        }
    }

    internal static void TryDelete(string folder)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }

                return;
            }
            catch (IOException)
            {
                Thread.Sleep(200);
            }
        }
    }
}
