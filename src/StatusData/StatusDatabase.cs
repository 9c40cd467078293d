using Npgsql;
using StatusData.Internal;

namespace StatusData;

/// <summary>
/// StatusData over one long-lived <see cref="NpgsqlDataSource"/>. Thread-safe; create one per
/// database and keep it for the life of the application (or register it with
/// <see cref="StatusDataServiceCollectionExtensions.AddStatusData(Microsoft.Extensions.DependencyInjection.IServiceCollection, string, Action{StatusDataOptions}?)"/>).
/// </summary>
public sealed class StatusDatabase : IStatusDatabase
{
    // Where writes and transactions go, and where lag-tolerant reads go: both the given data source,
    // unless StatusDataOptions.ReadsFromStandbys routes a multi-host data source (docs/scaling.md).
    private readonly NpgsqlDataSource _dataSource;
    private readonly StatusDataOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly Session _session;

    /// <summary>Creates StatusData over a data source the caller owns (and disposes).</summary>
    /// <param name="dataSource">The database.</param>
    /// <param name="options">Settings; <see langword="null"/> for the defaults. Copied: later changes have no effect.</param>
    /// <param name="timeProvider">The clock for ids, <c>created_at</c> and the default posting day; <see langword="null"/> for the system clock.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public StatusDatabase(NpgsqlDataSource dataSource, StatusDataOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _options = options?.Copy() ?? new StatusDataOptions();
        if (_options.FindInvalidSetting() is { } invalid)
        {
            throw invalid;
        }

        _timeProvider = timeProvider ?? TimeProvider.System;
        NpgsqlDataSource readDataSource;
        if (_options.ReadsFromStandbys && dataSource is NpgsqlMultiHostDataSource multiHost)
        {
            // Views over the same pools, owned (and disposed) with the caller's data source.
            _dataSource = multiHost.WithTargetSession(TargetSessionAttributes.Primary);
            readDataSource = multiHost.WithTargetSession(TargetSessionAttributes.PreferStandby);
        }
        else
        {
            _dataSource = dataSource;
            readDataSource = dataSource;
        }

        _session = new Session(_dataSource, readDataSource, _options, _timeProvider);
        Users = new UserRepository(_session);
        StatusUpdates = new StatusUpdateRepository(_session);
    }

    /// <inheritdoc />
    public IUserRepository Users { get; }

    /// <summary>The data source writes and transactions use (the primary), for the health check.</summary>
    internal NpgsqlDataSource DataSource => _dataSource;

    /// <inheritdoc />
    public IStatusUpdateRepository StatusUpdates { get; }

    /// <inheritdoc />
    public async Task<IStatusDataTransaction> BeginTransactionAsync(CancellationToken cancellationToken = default) =>
        new StatusDataTransaction(await _session.BeginAsync(cancellationToken).ConfigureAwait(false));

    private sealed class StatusDataTransaction(Session session) : IStatusDataTransaction
    {
        public IUserRepository Users { get; } = new UserRepository(session);

        public IStatusUpdateRepository StatusUpdates { get; } = new StatusUpdateRepository(session);

        public NpgsqlConnection Connection => session.Connection!;

        public NpgsqlTransaction Transaction => session.Transaction!;

        public Task CommitAsync(CancellationToken cancellationToken = default) => session.CommitAsync(cancellationToken);

        public Task RollbackAsync(CancellationToken cancellationToken = default) => session.RollbackAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await Transaction.DisposeAsync().ConfigureAwait(false);
            await Connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
