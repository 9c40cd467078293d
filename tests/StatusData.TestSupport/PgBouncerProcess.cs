using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace StatusData.TestSupport;

/// <summary>
/// A PgBouncer in transaction-pooling mode in front of one PostgreSQL server, for one test class: a
/// generated <c>pgbouncer.ini</c> and <c>userlist.txt</c> in a throwaway temp folder, listening on
/// 127.0.0.1 on a free port, run as the postgres OS user when root (pgbouncer refuses root).
/// Disposing it stops the process and deletes the folder; a crashed run's leftovers are removed by
/// <see cref="ThrowawayPostgresServer.CleanUpAbandonedAsync"/>. A missing pgbouncer is an error, never a skip.
/// </summary>
public sealed class PgBouncerProcess : IAsyncDisposable
{
    /// <summary>The name of the pid file in the folder.</summary>
    public const string PidFileName = "pgbouncer.pid";

    private static readonly string[] SystemFolders = ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"];

    private bool _disposed;

    private PgBouncerProcess(string rootDirectory, int port, string version, string username)
    {
        RootDirectory = rootDirectory;
        Port = port;
        Version = version;
        Username = username;
    }

    /// <summary>The folder holding the configuration, pid file and log.</summary>
    public string RootDirectory { get; }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>What <c>pgbouncer --version</c> printed first, e.g. "PgBouncer 1.18.0".</summary>
    public string Version { get; }

    /// <summary>The user clients connect as.</summary>
    public string Username { get; }

    private string LogFile => Path.Combine(RootDirectory, "pgbouncer.log");

    /// <summary>
    /// The connection string of <paramref name="database"/> through PgBouncer, with the settings transaction
    /// pooling needs: <c>No Reset On Close=true</c> (no DISCARD ALL per checkout) and <c>Max Auto Prepare=0</c>
    /// (PgBouncer before 1.21 cannot carry prepared statements between server connections).
    /// </summary>
    /// <param name="database">The database name on the server.</param>
    /// <returns>The connection string.</returns>
    public string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = Username,
            Database = database,
            NoResetOnClose = true,
            MaxAutoPrepare = 0,
            IncludeErrorDetail = true,
        }.ConnectionString;

    /// <summary>The pgbouncer program, or <see langword="null"/>.</summary>
    /// <returns>Its path.</returns>
    public static string? FindBinary() =>
        SystemFolders
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            .Select(d => Path.Combine(d, "pgbouncer"))
            .FirstOrDefault(File.Exists);

    /// <summary>Starts PgBouncer in transaction mode in front of the server <paramref name="serverConnectionString"/> names.</summary>
    /// <param name="serverConnectionString">A connection string of the server (host, port, user, optional password).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running PgBouncer.</returns>
    /// <exception cref="InvalidOperationException">pgbouncer is not installed or did not start.</exception>
    public static async Task<PgBouncerProcess> StartAsync(string serverConnectionString, CancellationToken cancellationToken = default)
    {
        var binary = FindBinary() ?? throw new InvalidOperationException(
            "pgbouncer is not installed, and the PgBouncer tests need it: 'sudo apt-get install -y pgbouncer' on Debian/Ubuntu "
            + "(scripts/test.sh installs it when run as root).");
        var versionRun = await ChildProcess.RunAsync(binary, ["--version"], cancellationToken: cancellationToken).ConfigureAwait(false);
        var version = (versionRun.Stdout + versionRun.Stderr).Split('\n')[0].Trim();
        var server = new NpgsqlConnectionStringBuilder(serverConnectionString);
        var username = server.Username ?? "postgres";
        var host = server.Host is { Length: > 0 } h && !h.StartsWith('/') ? h : "127.0.0.1";
        var root = Path.Combine(Path.GetTempPath(), ThrowawayPostgresServer.FolderPrefix + "bouncer-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, "owner.pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var port = ThrowawayPostgresServer.FreePort();
                var serverLogin = server.Password is { Length: > 0 } password ? $" user={username} password={password}" : string.Empty;
                var ini = new StringBuilder()
                    .AppendLine("[databases]")
                    .AppendLine(CultureInfo.InvariantCulture, $"* = host={host} port={server.Port}{serverLogin}")
                    .AppendLine("[pgbouncer]")
                    .AppendLine("listen_addr = 127.0.0.1")
                    .AppendLine(CultureInfo.InvariantCulture, $"listen_port = {port}")
                    .AppendLine("unix_socket_dir =")
                    .AppendLine("auth_type = trust")
                    .AppendLine(CultureInfo.InvariantCulture, $"auth_file = {Path.Combine(root, "userlist.txt")}")
                    .AppendLine(CultureInfo.InvariantCulture, $"admin_users = {username}")
                    .AppendLine("pool_mode = transaction")
                    .AppendLine("max_client_conn = 500")
                    .AppendLine("default_pool_size = 10")
                    .AppendLine("server_reset_query =")
                    .AppendLine("ignore_startup_parameters = extra_float_digits")
                    .AppendLine(CultureInfo.InvariantCulture, $"pidfile = {Path.Combine(root, PidFileName)}")
                    .AppendLine(CultureInfo.InvariantCulture, $"logfile = {Path.Combine(root, "pgbouncer.log")}")
                    .ToString();
                var iniPath = Path.Combine(root, "pgbouncer.ini");
                await File.WriteAllTextAsync(iniPath, ini, cancellationToken).ConfigureAwait(false);
                await File.WriteAllTextAsync(Path.Combine(root, "userlist.txt"), $"\"{username}\" \"{server.Password}\"\n", cancellationToken).ConfigureAwait(false);
                if (Environment.IsPrivilegedProcess)
                {
                    await ThrowawayPostgresServer.RunAsync("chown", ["-R", "postgres:postgres", root], asPostgres: false, cancellationToken).ConfigureAwait(false);
                }

                var bouncer = new PgBouncerProcess(root, port, version, username);
                try
                {
                    // -d: daemonize once listening; the pid file is how we stop it.
                    await ThrowawayPostgresServer.RunAsync(binary, ["-d", iniPath], Environment.IsPrivilegedProcess, cancellationToken).ConfigureAwait(false);
                    await bouncer.WaitUntilListeningAsync(cancellationToken).ConfigureAwait(false);
                    return bouncer;
                }
                catch (InvalidOperationException) when (attempt < 5)
                {
                    bouncer.Kill();
                }
            }
        }
        catch
        {
            ThrowawayPostgresServer.TryDelete(root);
            throw;
        }
    }

    /// <summary>Stops PgBouncer and deletes its folder.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            Kill();
            ThrowawayPostgresServer.TryDelete(RootDirectory);
        }

        return ValueTask.CompletedTask;
    }

    private void Kill()
    {
        var pidFile = Path.Combine(RootDirectory, PidFileName);
        if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), CultureInfo.InvariantCulture, out var pid))
        {
            ThrowawayPostgresServer.KillIfNamed(pid, "pgbouncer");
        }
    }

    private async Task WaitUntilListeningAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                var log = File.Exists(LogFile) ? await File.ReadAllTextAsync(LogFile, cancellationToken).ConfigureAwait(false) : "(no log)";
                throw new InvalidOperationException($"pgbouncer did not listen on 127.0.0.1:{Port} within 60 s ({e.Message}). Log:\n{log}", e);
            }
        }
    }
}
