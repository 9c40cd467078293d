using System.Diagnostics;

namespace StatusData.Internal;

/// <summary>
/// One span per repository call (started and ended in <see cref="Session"/>), from the <see cref="StatusDataTelemetry.ActivitySourceName"/> source.
/// <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns <see langword="null"/> when nobody
/// listens, and every helper here accepts that null: without a listener a call pays one check and allocates nothing.
/// Span names and tags are documented in docs/observability.md.
/// </summary>
internal static class Telemetry
{
    private static readonly ActivitySource Source = new(StatusDataTelemetry.ActivitySourceName, typeof(Telemetry).Assembly.GetName().Version?.ToString(3));

    /// <summary>Starts the span of a call; reads are <c>not_written</c> from the start, writes get their outcome when they end.</summary>
    public static Activity? Start(string name, Access access, bool inTransaction)
    {
        var activity = Source.StartActivity(name, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            if (access != Access.Write)
            {
                activity.SetTag(StatusDataTelemetry.OutcomeTag, "not_written");
            }

            if (inTransaction)
            {
                activity.SetTag("statusdata.in_transaction", true);
            }
        }

        return activity;
    }

    /// <summary>A write that returned: whether it changed anything.</summary>
    public static void Completed(Activity? activity, bool written) =>
        activity?.SetTag(StatusDataTelemetry.OutcomeTag, written ? "written" : "not_written");

    /// <summary>
    /// Records a failure on the span; meant for an exception filter (<c>catch (Exception e) when (Telemetry.Failed(..))</c>),
    /// so it always returns <see langword="false"/> and the exception propagates untouched.
    /// </summary>
    /// <param name="activity">The call's span, or <see langword="null"/>.</param>
    /// <param name="exception">What the call throws.</param>
    /// <param name="access">Whether the call writes.</param>
    /// <param name="inTransaction">Whether it ran in a caller's transaction (<see langword="false"/> for the transaction's own COMMIT, whose outcome is the committed one).</param>
    public static bool Failed(Activity? activity, Exception exception, Access access, bool inTransaction)
    {
        if (activity is { IsAllDataRequested: true })
        {
            // Unknown: the connection broke after a write was sent, or the caller cancelled a write on its own
            // connection after it may have reached the server. In a transaction nothing is committed before
            // its CommitAsync, which has its own span.
            var unknown = exception is TransientDatabaseException { OutcomeUnknown: true }
                || (exception is OperationCanceledException && access == Access.Write && !inTransaction);
            activity.SetTag(StatusDataTelemetry.OutcomeTag, unknown ? "unknown" : "not_written");
            activity.SetTag("error.type", exception.GetType().FullName);
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.AddException(exception);
        }

        return false;
    }
}
