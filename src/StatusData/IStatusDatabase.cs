using Npgsql;

namespace StatusData;

/// <summary>The entry point: the repositories, and transactions that span several operations.</summary>
/// <remarks>
/// Cancellation, for every method of StatusData: the <see cref="CancellationToken"/> ends the call with an
/// <see cref="OperationCanceledException"/>, and Npgsql asks the server to cancel a statement in flight. A
/// cancelled read wrote nothing, and neither did a write that was not yet sent. A write that was sent may have
/// committed before the cancellation reached the server, and the exception cannot say whether (a
/// <see cref="TransientDatabaseException"/> would, by <see cref="TransientDatabaseException.OutcomeUnknown"/>):
/// check before retrying. Inside an <see cref="IStatusDataTransaction"/> nothing commits before
/// <see cref="IStatusDataTransaction.CommitAsync"/>; roll it back after a cancellation.
/// </remarks>
public interface IStatusDatabase
{
    /// <summary>Users; each call runs on its own pooled connection.</summary>
    IUserRepository Users { get; }

    /// <summary>Status updates; each call runs on its own pooled connection.</summary>
    IStatusUpdateRepository StatusUpdates { get; }

    /// <summary>
    /// Starts a transaction whose repositories all run on one connection inside it, for several
    /// operations that must commit or roll back together. Dispose it without committing to roll back.
    /// </summary>
    /// <param name="cancellationToken">Cancels opening the connection and BEGIN.</param>
    /// <returns>The transaction.</returns>
    /// <exception cref="TransientDatabaseException">No connection could be had (pool exhausted, server unreachable). Nothing was written.</exception>
    Task<IStatusDataTransaction> BeginTransactionAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// A transaction of the caller's: repositories bound to it, and its <see cref="Connection"/> and
/// <see cref="Transaction"/> for the caller's own SQL in the same transaction. Not thread-safe: one
/// operation at a time.
/// </summary>
public interface IStatusDataTransaction : IAsyncDisposable
{
    /// <summary>Users, inside this transaction.</summary>
    IUserRepository Users { get; }

    /// <summary>Status updates, inside this transaction.</summary>
    IStatusUpdateRepository StatusUpdates { get; }

    /// <summary>The open connection, for the caller's own commands in this transaction.</summary>
    NpgsqlConnection Connection { get; }

    /// <summary>The transaction, for the caller's own commands.</summary>
    NpgsqlTransaction Transaction { get; }

    /// <summary>Commits everything done in the transaction.</summary>
    /// <param name="cancellationToken">Cancels the commit (its outcome is then unknown).</param>
    /// <returns>A task that completes when committed.</returns>
    /// <exception cref="TransientDatabaseException">
    /// The connection broke or the server refused the commit. <see cref="TransientDatabaseException.OutcomeUnknown"/>
    /// is <see langword="true"/> only when the connection broke while COMMIT was in flight; otherwise nothing was committed.
    /// </exception>
    Task CommitAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Rolls everything back. Disposing without committing does the same. When the transaction's
    /// connection already broke, the server has rolled it back, and this returns without error.
    /// </summary>
    /// <param name="cancellationToken">Cancels the rollback.</param>
    /// <returns>A task that completes when rolled back.</returns>
    Task RollbackAsync(CancellationToken cancellationToken = default);
}
