using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace StatusData.TestSupport;

/// <summary>A data node of an <see cref="AutoFailoverCluster"/>.</summary>
/// <param name="Name">Its pg_auto_failover name (<c>node1</c>, <c>node2</c>).</param>
/// <param name="Port">Its PostgreSQL port on 127.0.0.1.</param>
/// <param name="DataDirectory">Its PGDATA.</param>
public sealed record AutoFailoverNode(string Name, int Port, string DataDirectory);

/// <summary>What <see cref="AutoFailoverCluster.WaitForPrimaryAsync"/> saw.</summary>
/// <param name="Node">The node that is primary now.</param>
/// <param name="State">The state it reported to the monitor: <c>primary</c>, or <c>wait_primary</c> (read-write, no standby).</param>
/// <param name="Waited">From the call until the monitor showed it (polled every 50 ms).</param>
public sealed record PrimaryObservation(AutoFailoverNode Node, string State, TimeSpan Waited);

/// <summary>
/// A real high-availability PostgreSQL for one test class: a pg_auto_failover monitor and two data nodes
/// (Debian's <c>pg_autoctl</c> and <c>postgresql-15-auto-failover</c>), all on 127.0.0.1 and free ports, in
/// one throwaway folder <c>statusdata-pg-autofailover-*</c> owned by this process. The standby is
/// synchronous (pg_auto_failover's default: <c>synchronous_standby_names = 'ANY 1 (…)'</c>), so a commit the
/// primary acknowledged survives a failover. The monitor's health checks are tuned from tens of seconds
/// to about one (see <see cref="MonitorSettings"/>). Disposing it stops everything and deletes the folder;
/// a run killed before that is cleaned up by <see cref="ThrowawayPostgresServer.CleanUpAbandonedAsync"/>.
/// </summary>
public sealed class AutoFailoverCluster : IAsyncDisposable
{
    /// <summary>The folder prefix: under <see cref="ThrowawayPostgresServer.FolderPrefix"/>, so the leftover checks see it.</summary>
    public const string FolderPrefix = ThrowawayPostgresServer.FolderPrefix + "autofailover-";

    /// <summary>
    /// The xunit collection of every test class that starts a cluster: declared in each test assembly with
    /// <c>DisableParallelization = true</c>, so those classes run one at a time, after the assembly's parallel tests.
    /// The monitor decides on health checks of about a second (see <see cref="MonitorSettings"/>); with the rest of
    /// the suite competing for the machine's two cores, a starved keeper or standby looks dead, and the engine then
    /// fails over, or stops waiting for its standby, when nothing failed. The figures the tests report also need a
    /// quiet machine.
    /// </summary>
    public const string TestCollection = "pg_auto_failover clusters, alone";

    private const string Formation = "primary/primary secondary/secondary";

    /// <summary>
    /// The monitor's GUCs (postgresql.auto.conf, before its first start). Defaults in brackets. Measured here:
    /// a node killed with its keeper (a machine failure) became writable elsewhere after ~51 s by default and
    /// ~5.5–7 s with these (1–2 s to notice, 3.5 s of primary_demote_timeout).
    /// </summary>
    private static readonly string[] MonitorSettings =
    [
        // How often the monitor connects to each node [5000 ms], how long a connect may take [5000 ms], how many
        // retries and how far apart [2, 2000 ms] before a node counts as unreachable: ~1 s instead of ~15 s.
        "pgautofailover.health_check_period = 1000",
        "pgautofailover.health_check_timeout = 1000",
        "pgautofailover.health_check_max_retries = 1",
        "pgautofailover.health_check_retry_delay = 200",
        // Failover starts once a node is unreachable and its keeper silent for this long [20000 ms].
        "pgautofailover.node_considered_unhealthy_timeout = 2000",
        // How long the monitor waits for an unreachable old primary to have demoted itself before the new
        // primary takes writes (it stays read-only in stop_replication until then) [30000 ms]. Must exceed the
        // keepers' timeout.network_partition_timeout (set to 2 s below), or a primary cut off from the monitor
        // could still take writes while the new one does.
        "pgautofailover.primary_demote_timeout = 3500",
        // Health checks are ignored for this long after the monitor starts [10000 ms].
        "pgautofailover.startup_grace_period = 2000",
    ];

    /// <summary>For all three servers: small, and no fsync (nothing here must survive a power cut).</summary>
    private static readonly string[] ServerSettings = ["shared_buffers = 128MB", "fsync = off"];

    private static readonly string[] SystemFolders = ["/usr/bin", "/usr/local/bin"];

    private readonly string _pgAutoCtl;
    private readonly string _binDirectory;
    private bool _disposed;

    private AutoFailoverCluster(string root, string pgAutoCtl, string binDirectory, int monitorPort, AutoFailoverNode[] nodes)
    {
        RootDirectory = root;
        _pgAutoCtl = pgAutoCtl;
        _binDirectory = binDirectory;
        MonitorPort = monitorPort;
        Nodes = nodes;
    }

    /// <summary>The folder holding the monitor, the nodes, pg_autoctl's config and pid files, and the logs.</summary>
    public string RootDirectory { get; }

    /// <summary>The monitor's PostgreSQL port on 127.0.0.1.</summary>
    public int MonitorPort { get; }

    /// <summary>The two data nodes, in creation order (the first starts as primary).</summary>
    public IReadOnlyList<AutoFailoverNode> Nodes { get; }

    /// <summary>The monitor's database, as its <c>autoctl_node</c> user (trusted from 127.0.0.1).</summary>
    public string MonitorConnectionString => $"Host=127.0.0.1;Port={MonitorPort};Username=autoctl_node;Database=pg_auto_failover;Pooling=false;Timeout=5";

    private string MonitorDirectory => Path.Combine(RootDirectory, "monitor");

    private string MonitorUri => $"postgres://autoctl_node@127.0.0.1:{MonitorPort}/pg_auto_failover?sslmode=disable";

    /// <summary>
    /// Both nodes in one Npgsql connection string, as an application would name the cluster. Host Recheck
    /// Seconds is 1, not Npgsql's 10: Npgsql caches each host's role (primary, standby, offline) that long, so
    /// after a failover it answers "No suitable host was found" until the cached "standby" of the new primary
    /// expires: measured here, the first write came 4.1 s after promotion with 10 (up to 10 s), 0.6 s with 1,
    /// and with 0 on the first try (every open re-checks the role).
    /// </summary>
    /// <param name="targetSessionAttributes">Npgsql's Target Session Attributes: read-write, primary, standby, prefer-standby, any.</param>
    /// <param name="hostRecheckSeconds">Npgsql's Host Recheck Seconds.</param>
    /// <returns>The connection string (database and user postgres).</returns>
    public string ConnectionString(string targetSessionAttributes = "read-write", int hostRecheckSeconds = 1) =>
        $"Host={string.Join(',', Nodes.Select(n => $"127.0.0.1:{n.Port}"))};Username=postgres;Database=postgres;"
        + $"Target Session Attributes={targetSessionAttributes};Host Recheck Seconds={hostRecheckSeconds};Timeout=5;Include Error Detail=true";

    /// <summary>One node alone (postgres database and user), for checks of a given server.</summary>
    /// <param name="node">The node.</param>
    /// <returns>Its connection string, without pooling.</returns>
    public static string NodeConnectionString(AutoFailoverNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return $"Host=127.0.0.1;Port={node.Port};Username=postgres;Database=postgres;Pooling=false;Timeout=5;Include Error Detail=true";
    }

    /// <summary>
    /// Creates the monitor and two nodes in a new folder, as the postgres OS user when root (initdb and postgres
    /// refuse root), and waits until the formation is primary/secondary (about 10 s). Cleans up what killed runs
    /// left first.
    /// </summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running cluster.</returns>
    /// <exception cref="InvalidOperationException">pg_auto_failover is not installed, or a step failed (with its output).</exception>
    public static async Task<AutoFailoverCluster> StartAsync(CancellationToken cancellationToken = default)
    {
        var (pgAutoCtl, bin) = FindBinaries();
        await ThrowawayPostgresServer.CleanUpAbandonedAsync(cancellationToken).ConfigureAwait(false);
        var root = Path.Combine(Path.GetTempPath(), FolderPrefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, "owner.pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(Path.Combine(root, "run"));
        Directory.CreateDirectory(Path.Combine(root, "socket"));
        // Ports are probed free now and bound moments later; a collision fails the start (no retry: rare, and loud).
        AutoFailoverNode[] nodes = [.. Enumerable.Range(1, 2).Select(i => new AutoFailoverNode($"node{i}", ThrowawayPostgresServer.FreePort(), Path.Combine(root, $"node{i}")))];
        var cluster = new AutoFailoverCluster(root, pgAutoCtl, bin, ThrowawayPostgresServer.FreePort(), nodes);
        try
        {
            if (Environment.IsPrivilegedProcess)
            {
                await ThrowawayPostgresServer.RunAsync("chown", ["-R", "postgres:postgres", root], asPostgres: false, cancellationToken).ConfigureAwait(false);
            }

            await cluster.CreateAsync(cancellationToken).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Each node's reported and assigned (goal) state, from the monitor's <c>pgautofailover.node</c>.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>Node name to (reported, goal).</returns>
    public async Task<IReadOnlyDictionary<string, (string Reported, string Goal)>> GetStatesAsync(CancellationToken cancellationToken = default)
    {
        const string sql = "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node ORDER BY nodeid";
        await using var connection = new NpgsqlConnection(MonitorConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var states = new Dictionary<string, (string, string)>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            states[reader.GetString(0)] = (reader.GetString(1), reader.GetString(2));
        }

        return states;
    }

    /// <summary>
    /// The monitor's history of the formation (<c>pgautofailover.event</c>): every state reported and assigned,
    /// with its time, timeline and LSN, one line each. For failure messages: it shows every failover, wanted or not.
    /// </summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The events, oldest first.</returns>
    public async Task<string> GetEventsAsync(CancellationToken cancellationToken = default)
    {
        const string sql = """
            SELECT to_char(eventtime AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') || ' ' || nodename || ' ' || reportedstate::text || '/' || goalstate::text
                   || ' tli ' || reportedtli || ' lsn ' || reportedlsn::text || ': ' || description
            FROM pgautofailover.event ORDER BY eventid
            """;
        await using var connection = new NpgsqlConnection(MonitorConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var lines = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            lines.Add(reader.GetString(0));
        }

        return string.Join('\n', lines);
    }

    /// <summary>The node the monitor has as primary now (reported and assigned <c>primary</c> or <c>wait_primary</c>).</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The primary, or <see langword="null"/> while there is none (during a failover).</returns>
    public async Task<AutoFailoverNode?> GetPrimaryAsync(CancellationToken cancellationToken = default)
    {
        var states = await GetStatesAsync(cancellationToken).ConfigureAwait(false);
        return Nodes.FirstOrDefault(n => states.TryGetValue(n.Name, out var s) && IsPrimaryState(s.Reported) && IsPrimaryState(s.Goal));
    }

    /// <summary>
    /// Polls the monitor until a node other than <paramref name="excluding"/> reports itself primary: state
    /// <c>primary</c>, or <c>wait_primary</c>, which is just as writable but has no standby yet, and is where a
    /// two-node formation stays while the other node is dead. (A killed node's last report stays "primary" in
    /// the monitor, hence the exclusion.)
    /// </summary>
    /// <param name="excluding">The node that failed or is being switched away from; <see langword="null"/>: any.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The new primary and how long the wait took.</returns>
    /// <exception cref="TimeoutException">No other node became primary in time (with the states seen last).</exception>
    public async Task<PrimaryObservation> WaitForPrimaryAsync(AutoFailoverNode? excluding, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyDictionary<string, (string Reported, string Goal)> states = new Dictionary<string, (string, string)>();
        while (clock.Elapsed < timeout)
        {
            try
            {
                states = await GetStatesAsync(cancellationToken).ConfigureAwait(false);
                var primary = Nodes.FirstOrDefault(n => n != excluding && states.TryGetValue(n.Name, out var s) && IsPrimaryState(s.Reported));
                if (primary is not null)
                {
                    return new PrimaryObservation(primary, states[primary.Name].Reported, clock.Elapsed);
                }
            }
            catch (NpgsqlException)
            {
                // The monitor is busy or restarting: ask again.
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"No node other than {excluding?.Name ?? "(none)"} became primary within {timeout}: {Describe(states)}.\n{Logs()}");
    }

    /// <summary>
    /// Kills the primary with SIGKILL. <paramref name="withKeeper"/> (the default) kills its whole pg_autoctl
    /// process tree, keeper and postmaster together, as a machine failure would: the monitor's health checks
    /// then fail the node over, every time. The postmaster alone is a race between two pg_autoctl behaviours:
    /// the keeper restarts a dead postmaster within about a second, and it also reports "Postgres is not
    /// running" to the monitor, which then starts a failover at once. Measured here, the same kill did either:
    /// failover in 2 s (writable) or local crash recovery with no failover, where commits then wait for the
    /// synchronous standby to reconnect (~6 s).
    /// </summary>
    /// <param name="withKeeper">Also kill the node's pg_autoctl processes, so that it stays down.</param>
    /// <param name="cancellationToken">Cancels the look-up.</param>
    /// <returns>The node killed.</returns>
    public async Task<AutoFailoverNode> KillPrimaryPostmasterAsync(bool withKeeper = true, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var primary = await GetPrimaryAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"No primary to kill: {Describe(await GetStatesAsync(cancellationToken).ConfigureAwait(false))}.");
        var postmaster = ReadPid(Path.Combine(primary.DataDirectory, "postmaster.pid"))
            ?? throw new InvalidOperationException($"{primary.Name} has no postmaster.pid.");
        if (withKeeper)
        {
            // pg_autoctl's supervisor is the keeper, Postgres's controller and, through it, the postmaster:
            // the whole tree goes at once (collected first, then SIGKILLed), so nothing restarts anything.
            var keeper = ReadPid(KeeperPidFile(primary.DataDirectory))
                ?? throw new InvalidOperationException($"{primary.Name} has no pg_autoctl.pid.");
            ThrowawayPostgresServer.KillIfNamed(keeper, "pg_autoctl");
        }

        // SIGKILL (Process.Kill): no shutdown checkpoint, no goodbye to clients or the standby.
        ThrowawayPostgresServer.KillIfNamed(postmaster, "postgres");
        return primary;
    }

    /// <summary>
    /// <c>pg_autoctl perform switchover</c>: the primary is demoted, the standby promoted, and the old primary
    /// rejoins as its synchronous standby; returns once the formation is primary/secondary again (~3 s here).
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The new primary.</returns>
    public async Task<AutoFailoverNode> SwitchoverAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var before = await GetPrimaryAsync(cancellationToken).ConfigureAwait(false);
        await PgAutoCtlAsync(["perform", "switchover", "--pgdata", MonitorDirectory], cancellationToken).ConfigureAwait(false);
        await WaitForFormationAsync(cancellationToken).ConfigureAwait(false);
        var after = await GetPrimaryAsync(cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException("No primary after the switchover.");
        return after != before ? after : throw new InvalidOperationException($"The switchover left {after.Name} primary.");
    }

    /// <summary>
    /// Stops everything (<c>pg_autoctl stop --immediate</c> for each node and the monitor; SIGKILL of whatever
    /// is still running after 15 s) and deletes the folder.
    /// </summary>
    /// <returns>A task that completes when nothing is left.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var pgdata in Nodes.Select(n => n.DataDirectory).Append(MonitorDirectory).Where(Directory.Exists))
        {
            // Returns at once: it signals the supervisor, which stops Postgres and exits.
            try
            {
                await PgAutoCtlAsync(["stop", "--pgdata", pgdata, "--immediate"], CancellationToken.None).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // Not running (a killed node): the kill below covers anything else.
            }
        }

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (RunningProcesses(RootDirectory).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100).ConfigureAwait(false);
        }

        KillProcesses(RootDirectory);
        ThrowawayPostgresServer.TryDelete(RootDirectory);
    }

    /// <summary>
    /// SIGKILLs whatever a cluster folder's pid files name that still runs: pg_autoctl supervisors (with their
    /// trees) and postmasters. For <see cref="ThrowawayPostgresServer.CleanUpAbandonedAsync"/> and dispose.
    /// </summary>
    /// <param name="root">A cluster folder (any other folder has no such pid files: nothing happens).</param>
    internal static void KillProcesses(string root)
    {
        foreach (var (pid, name) in RunningProcesses(root))
        {
            ThrowawayPostgresServer.KillIfNamed(pid, name);
        }

        // What those trees did not hold: a backend or a pg_autoctl worker whose parent was killed first and that
        // still runs, or one a supervisor started while it was being listed. Each names the folder in its command
        // line or environment (PGDATA, XDG_*); kill them until none is left, for at most 5 s.
        for (var round = 0; round < 50; round++)
        {
            var left = ProcessesReferencing(root);
            if (left.Count == 0)
            {
                return;
            }

            foreach (var pid in left)
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // Gone meanwhile.
                }
            }

            Thread.Sleep(100);
        }
    }

    /// <summary>The running processes whose command line or environment names <paramref name="root"/>.</summary>
    private static List<int> ProcessesReferencing(string root)
    {
        var found = new List<int>();
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId || !Processes.IsRunning(pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(proc, "cmdline")).Contains(root, StringComparison.Ordinal)
                    || File.ReadAllText(Path.Combine(proc, "environ")).Contains(root, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited while we looked, or not ours to read.
            }
        }

        return found;
    }

    /// <summary>The processes named by the folder's pid files that are running, with the name they must have (pids get reused).</summary>
    private static List<(int Pid, string Name)> RunningProcesses(string root)
    {
        try
        {
            return ListProcesses(root);
        }
        catch (IOException)
        {
            // A pid file or folder vanished while we listed them (a server stopping): list again.
            return ListProcesses(root);
        }
    }

    private static List<(int Pid, string Name)> ListProcesses(string root)
    {
        var run = Path.Combine(root, "run");
        var supervisors = Directory.Exists(run)
            ? Directory.EnumerateFiles(run, "pg_autoctl*.pid", SearchOption.AllDirectories).Select(f => (Pid: ReadPid(f), Name: "pg_autoctl"))
            : [];
        var postmasters = Directory.Exists(root)
            ? Directory.EnumerateDirectories(root).Select(d => (Pid: ReadPid(Path.Combine(d, "postmaster.pid")), Name: "postgres"))
            : [];
        return supervisors.Concat(postmasters)
            .Where(p => p.Pid is { } pid && Processes.IsRunning(pid) && ProcessName(pid).StartsWith(p.Name, StringComparison.Ordinal))
            .Select(p => (p.Pid!.Value, p.Name))
            .ToList();
    }

    private async Task CreateAsync(CancellationToken cancellationToken)
    {
        // --auth trust: every connection from 127.0.0.1 (the only address anything listens on); --no-ssl: loopback only.
        string[] common = ["--hostname", "127.0.0.1", "--listen", "127.0.0.1", "--auth", "trust", "--no-ssl", "--pgctl", Path.Combine(_binDirectory, "pg_ctl")];
        await PgAutoCtlAsync(["create", "monitor", "--pgdata", MonitorDirectory, "--pgport", Port(MonitorPort), .. common], cancellationToken).ConfigureAwait(false);
        // create (without --run) leaves the server stopped: settings go in before its first real start.
        await AppendSettingsAsync(MonitorDirectory, [.. ServerSettings, .. MonitorSettings], cancellationToken).ConfigureAwait(false);
        await StartSupervisorAsync("monitor", MonitorDirectory, cancellationToken).ConfigureAwait(false);

        foreach (var node in Nodes)
        {
            // The first node registers as primary (initdb); the second as its standby (pg_basebackup from it, so it
            // inherits the first's postgresql.auto.conf). Both stop after registering, before their keeper runs.
            await PgAutoCtlAsync(["create", "postgres", "--pgdata", node.DataDirectory, "--pgport", Port(node.Port), "--name", node.Name, "--monitor", MonitorUri, .. common], cancellationToken).ConfigureAwait(false);
            if (node == Nodes[0])
            {
                await AppendSettingsAsync(node.DataDirectory, ServerSettings, cancellationToken).ConfigureAwait(false);
            }

            // A primary that has lost both the monitor and its standby for this long demotes itself [20 s]; below the
            // monitor's primary_demote_timeout, so that the monitor's wait for it is long enough (see MonitorSettings).
            await PgAutoCtlAsync(["config", "set", "--pgdata", node.DataDirectory, "timeout.network_partition_timeout", "2"], cancellationToken).ConfigureAwait(false);
            await StartSupervisorAsync(node.Name, node.DataDirectory, cancellationToken).ConfigureAwait(false);
        }

        await WaitForFormationAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits (two minutes at most) until one node is primary and the other its secondary, as reported and as assigned.</summary>
    private async Task WaitForFormationAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        IReadOnlyDictionary<string, (string Reported, string Goal)> states = new Dictionary<string, (string, string)>();
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                states = await GetStatesAsync(cancellationToken).ConfigureAwait(false);
                var summary = string.Join(' ', states.Values.Select(s => $"{s.Reported}/{s.Goal}").Order(StringComparer.Ordinal));
                if (states.Count == Nodes.Count && summary == Formation)
                {
                    return;
                }
            }
            catch (NpgsqlException)
            {
                // The monitor is still starting.
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"The formation did not reach primary/secondary within two minutes: {Describe(states)}.\n{Logs()}");
    }

    /// <summary>
    /// Starts <c>pg_autoctl run</c> for one server, detached (<c>setsid</c>: its own session and process group,
    /// so it outlives nothing of ours but its folder's clean-up), logging to <c>name.log</c> in the folder.
    /// </summary>
    private async Task StartSupervisorAsync(string name, string pgdata, CancellationToken cancellationToken)
    {
        var log = Path.Combine(RootDirectory, name + ".log");
        await PgAutoCtlAsync(["run", "--pgdata", pgdata], cancellationToken, detachedLog: log).ConfigureAwait(false);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(Path.Combine(pgdata, "postmaster.pid")))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"pg_autoctl run did not start Postgres in {pgdata} within 30 s.\n{Logs()}");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs pg_autoctl as the postgres OS user when root, with everything it keeps outside PGDATA inside the
    /// folder: its config (XDG_CONFIG_HOME), state (XDG_DATA_HOME) and pid files (XDG_RUNTIME_DIR), and the
    /// servers' unix sockets (PG_REGRESS_SOCK_DIR, which pg_autoctl passes to postgres -k, and PGHOST, which it
    /// connects through; without them it uses /var/run/postgresql, which may not exist). With
    /// <paramref name="detachedLog"/> the command is started in the background and this returns at once.
    /// </summary>
    private async Task PgAutoCtlAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? detachedLog = null)
    {
        var socket = Path.Combine(RootDirectory, "socket");
        List<string> command =
        [
            "env",
            $"HOME={RootDirectory}",
            $"XDG_CONFIG_HOME={Path.Combine(RootDirectory, "config")}",
            $"XDG_DATA_HOME={Path.Combine(RootDirectory, "share")}",
            $"XDG_RUNTIME_DIR={Path.Combine(RootDirectory, "run")}",
            $"PG_REGRESS_SOCK_DIR={socket}",
            $"PGHOST={socket}",
            $"PATH={_binDirectory}:/usr/bin:/bin",
        ];
        command.AddRange(detachedLog is null
            ? [_pgAutoCtl, .. arguments]
            : ["sh", "-c", $"exec setsid \"$0\" \"$@\" >>'{detachedLog}' 2>&1 </dev/null &", _pgAutoCtl, .. arguments]);
        var result = Environment.IsPrivilegedProcess
            ? await ChildProcess.RunAsync("runuser", ["-u", "postgres", "--", .. command], TimeSpan.FromMinutes(2), workingDirectory: RootDirectory, cancellationToken: cancellationToken).ConfigureAwait(false)
            : await ChildProcess.RunAsync(command[0], command.Skip(1), TimeSpan.FromMinutes(2), workingDirectory: RootDirectory, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"'pg_autoctl {string.Join(' ', arguments)}' exited with {result.ExitCode}:\n{result.Stdout}{result.Stderr}\n{Logs()}");
        }
    }

    private static async Task AppendSettingsAsync(string pgdata, IEnumerable<string> settings, CancellationToken cancellationToken) =>
        await File.AppendAllLinesAsync(Path.Combine(pgdata, "postgresql.auto.conf"), settings, cancellationToken).ConfigureAwait(false);

    /// <summary>pg_autoctl, and the bin folder of a PostgreSQL whose extension folder has pgautofailover (Debian 12: 15 only).</summary>
    private static (string PgAutoCtl, string BinDirectory) FindBinaries()
    {
        const string install = "sudo apt-get install -y postgresql-15-auto-failover pg-auto-failover-cli (scripts/test.sh installs them when run as root)";
        var pgAutoCtl = SystemFolders
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            .Select(d => Path.Combine(d, "pg_autoctl"))
            .FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"pg_autoctl is not installed, and the high-availability tests need it: {install}.");
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Where(d => File.Exists($"/usr/share/postgresql/{Path.GetFileName(d)}/extension/pgautofailover.control") && File.Exists(Path.Combine(d, "bin", "pg_ctl")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), CultureInfo.InvariantCulture, out var major) ? major : 0)
                .Select(d => Path.Combine(d, "bin"))
                .FirstOrDefault()
            : null;
        return (pgAutoCtl, bin ?? throw new InvalidOperationException($"No PostgreSQL has the pgautofailover extension: {install}."));
    }

    /// <summary>Where pg_autoctl keeps a server's supervisor pid: XDG_RUNTIME_DIR/pg_autoctl/PGDATA/pg_autoctl.pid.</summary>
    private string KeeperPidFile(string pgdata) => Path.Combine(RootDirectory, "run", "pg_autoctl", pgdata.TrimStart('/'), "pg_autoctl.pid");

    private static bool IsPrimaryState(string state) => state is "primary" or "wait_primary";

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static int? ReadPid(string pidFile)
    {
        try
        {
            return File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string ProcessName(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.ProcessName;
        }
        catch (ArgumentException)
        {
            return string.Empty;
        }
        catch (InvalidOperationException)
        {
            return string.Empty;
        }
    }

    private static string Describe(IReadOnlyDictionary<string, (string Reported, string Goal)> states) =>
        states.Count == 0 ? "(no answer from the monitor)" : string.Join(", ", states.Select(s => $"{s.Key} {s.Value.Reported}/{s.Value.Goal}"));

    /// <summary>The last lines of each supervisor's log, for failure messages.</summary>
    public string Logs() => string.Join('\n', Directory.Exists(RootDirectory)
        ? Directory.EnumerateFiles(RootDirectory, "*.log").Order(StringComparer.Ordinal).Select(f => $"--- {Path.GetFileName(f)} ---\n{string.Join('\n', File.ReadLines(f).TakeLast(30))}")
        : []);
}
