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
    public async Task<IStatusDataTransaction> BeginTransactionAsync(CancellationToken cancellationToken = default)
    {
        using var span = Telemetry.Start("statusdata.begin_transaction", Access.ReadPrimary, _session);
        try
        {
            NpgsqlConnection connection;
            try
            {
                connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException e) when (e.IsTransient && !cancellationToken.IsCancellationRequested)
            {
                // No connection in time (pool exhausted, server down): typed like every other call's.
                throw Session.Transient(e, Outcome.NothingWritten);
            }

            try
            {
                var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                return new StatusDataTransaction(connection, transaction, new Session(connection, transaction, _options, _timeProvider));
            }
            catch (NpgsqlException e) when (e.IsTransient && !cancellationToken.IsCancellationRequested)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw Session.Transient(e, Outcome.NothingWritten);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch (Exception e) when (Telemetry.Failed(span, e, Access.ReadPrimary, _session))
        {
            throw;
        }
    }

    private sealed class StatusDataTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction, Session session) : IStatusDataTransaction
    {
        public IUserRepository Users { get; } = new UserRepository(session);

        public IStatusUpdateRepository StatusUpdates { get; } = new StatusUpdateRepository(session);

        public NpgsqlConnection Connection => connection;

        public NpgsqlTransaction Transaction => transaction;

        public async Task CommitAsync(CancellationToken cancellationToken = default)
        {
            using var span = Telemetry.Start("statusdata.commit", Access.Write, session);
            try
            {
                await session.CommitAsync(cancellationToken).ConfigureAwait(false);
                Telemetry.Completed(span, written: true);
            }
            catch (Exception e) when (Telemetry.Failed(span, e, Access.Write, session: null))
            {
                throw;
            }
        }

        public async Task RollbackAsync(CancellationToken cancellationToken = default)
        {
            using var span = Telemetry.Start("statusdata.rollback", Access.ReadPrimary, session);
            try
            {
                await session.RollbackAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (Telemetry.Failed(span, e, Access.ReadPrimary, session))
            {
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
