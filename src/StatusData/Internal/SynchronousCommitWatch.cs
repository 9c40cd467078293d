using System.Diagnostics;
using Npgsql;

namespace StatusData.Internal;

/// <summary>
/// Watches one committing call for PostgreSQL's answer to a COMMIT whose wait for a synchronous standby was cancelled.
/// PostgreSQL does not roll such a commit back: it stops waiting and answers success, with only a WARNING ("canceling
/// wait for synchronous replication due to user request", "The transaction has already committed locally, but might
/// not have been replicated to the standby"), and Npgsql returns that success. The cancel comes from the caller's token
/// or from the connection string's Command Timeout (Npgsql sends a cancel request for both). The write is then on the
/// primary only, and a failover before the standby has it loses it, so it must not be reported as done. Npgsql offers
/// no more than its <see cref="NpgsqlConnection.Notice"/> event for this, hence this watch: a WARNING (by its
/// untranslated severity; the text is in the server's language) during a call that was cancelled or ran its whole
/// command timeout. A WARNING without a cancel (e.g. a trigger's RAISE WARNING) changes nothing.
/// </summary>
internal sealed class SynchronousCommitWatch : IDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly long _started = Stopwatch.GetTimestamp();
    private PostgresNotice? _warning;

    public SynchronousCommitWatch(NpgsqlConnection connection)
    {
        _connection = connection;
        connection.Notice += OnNotice;
    }

    /// <summary>
    /// After the call returned success: the exception to throw instead when its commit's wait for the standby was cut
    /// short, or <see langword="null"/> when the success is a real one.
    /// </summary>
    /// <param name="cancellationToken">The caller's token, as passed to the call.</param>
    /// <returns>An outcome-unknown <see cref="TransientDatabaseException"/>, or <see langword="null"/>.</returns>
    public TransientDatabaseException? Unconfirmed(CancellationToken cancellationToken)
    {
        if (_warning is not { } warning)
        {
            return null;
        }

        var timeout = _connection.CommandTimeout;
        Exception cause;
        if (cancellationToken.IsCancellationRequested)
        {
            cause = new OperationCanceledException("the caller's cancellation token", cancellationToken);
        }
        else if (timeout > 0 && Stopwatch.GetElapsedTime(_started) >= TimeSpan.FromSeconds(timeout))
        {
            cause = new TimeoutException($"the connection string's Command Timeout ({timeout} s)");
        }
        else
        {
            return null;
        }

        return new TransientDatabaseException(
            $"A transient database error: the write was committed on the primary, but its wait for the synchronous standby was cancelled by {cause.Message}, "
            + $"and the server answered with a warning instead of an error (\"{warning.MessageText}\" {warning.Detail}). "
            + "It is not confirmed on a standby: a failover before the standby receives it would lose it. "
            + "The write may or may not survive: check before retrying, and give commits more time than the standby needs.",
            outcomeUnknown: true,
            cause);
    }

    public void Dispose() => _connection.Notice -= OnNotice;

    private void OnNotice(object sender, NpgsqlNoticeEventArgs e)
    {
        if (e.Notice.InvariantSeverity == "WARNING")
        {
            _warning ??= e.Notice;
        }
    }
}
