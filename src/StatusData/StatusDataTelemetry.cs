namespace StatusData;

/// <summary>
/// The names to subscribe to for StatusData's traces: one span per repository call, named by operation
/// (<c>statusdata.post</c>, <c>statusdata.get_feed</c>, ...), whose children are Npgsql's own command spans.
/// With OpenTelemetry: <c>tracing.AddSource(StatusDataTelemetry.ActivitySourceName).AddNpgsql()</c>.
/// See docs/observability.md for the span names and tags.
/// </summary>
public static class StatusDataTelemetry
{
    /// <summary>The <see cref="System.Diagnostics.ActivitySource"/> name, <c>StatusData</c>.</summary>
    public const string ActivitySourceName = "StatusData";

    /// <summary>
    /// The span tag that says what a call did to the data: <c>written</c> (its write took effect; inside a
    /// transaction, pending that transaction's commit), <c>not_written</c> (it changed nothing), or
    /// <c>unknown</c> (a write was sent and its answer lost: check before retrying).
    /// </summary>
    public const string OutcomeTag = "statusdata.outcome";
}
