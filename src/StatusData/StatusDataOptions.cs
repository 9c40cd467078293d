using Microsoft.Extensions.Options;

namespace StatusData;

/// <summary>Settings of StatusData.</summary>
public sealed class StatusDataOptions
{
    /// <summary>The largest <see cref="MaxMessageLength"/> that can be configured (1 MiB of code points).</summary>
    public const int MessageLengthLimit = 1_048_576;

    private const int MaxReadAttempts = 10;

    /// <summary>
    /// The longest status message accepted, in characters as PostgreSQL counts them (Unicode code
    /// points). <c>message</c> is a <c>text</c> column with no limit of its own; this cap keeps one
    /// request from storing megabytes. Default 5,000; at most <see cref="MessageLengthLimit"/>.
    /// </summary>
    public int MaxMessageLength { get; set; } = 5_000;

    /// <summary>
    /// How many times a read (a Get or List method, outside a transaction) is attempted when it fails
    /// with a <see cref="TransientDatabaseException"/>. Default 1: no retry; at most 10. Writes are never retried:
    /// when a connection breaks mid-write, whether it committed is unknown, and retrying could apply it twice.
    /// </summary>
    public int ReadAttempts { get; set; } = 1;

    /// <summary>
    /// Sends the reads that tolerate replica lag (feed, leaderboard, lookups, lists, a user with their
    /// updates, single status updates) to standbys when the data source is an
    /// <see cref="Npgsql.NpgsqlMultiHostDataSource"/> (a connection string with several hosts, e.g.
    /// <c>Host=primary,standby1,standby2</c>): they use <c>TargetSessionAttributes.PreferStandby</c>, so
    /// they fall back to the primary when no standby is up. Writes, everything inside an
    /// <see cref="IStatusDataTransaction"/>, and reads that must see the primary's latest state then use
    /// <c>TargetSessionAttributes.Primary</c>. A read on a standby may not yet see a write that was just
    /// committed: read your own writes inside a transaction. Default <see langword="false"/>: every call
    /// uses the data source as given. With a single-host data source this setting has no effect.
    /// See docs/scaling.md for the routing of every method.
    /// </summary>
    public bool ReadsFromStandbys { get; set; }

    /// <summary>
    /// Whether the data source that <c>AddStatusData(connectionString)</c> builds prepares statements on the server:
    /// Npgsql's automatic preparation (<c>Max Auto Prepare=32</c>), unless the connection string sets
    /// <c>Max Auto Prepare</c> itself. Default <see langword="true"/>. StatusData runs its statements through
    /// Dapper, which never prepares; a data source you pass in is prepared as its own connection string says (set
    /// <c>Max Auto Prepare=32</c> there for the same speed). Set this to <see langword="false"/> behind PgBouncer in
    /// transaction mode older than 1.21 (or with <c>max_prepared_statements = 0</c>), where a statement prepared on
    /// one server connection does not exist on the next one, and keep <c>Max Auto Prepare=0</c> in a connection
    /// string you build yourself there; see docs/scaling.md.
    /// </summary>
    public bool PrepareStatements { get; set; } = true;

    /// <summary>A copy: the settings a <see cref="StatusDatabase"/> keeps, unaffected by later changes to these.</summary>
    internal StatusDataOptions Copy() => (StatusDataOptions)MemberwiseClone(); // every setting is a value: a shallow copy is a full one

    /// <summary>
    /// The first setting out of range, naming it and its value; <see langword="null"/> if all are valid. The one
    /// home of the rules: the <see cref="StatusDatabase"/> constructor throws it, and <see cref="Validator"/> reports
    /// its message where dependency injection builds the options (at host start, with <c>ValidateOnStart</c>).
    /// </summary>
    internal ArgumentOutOfRangeException? FindInvalidSetting() =>
        MaxMessageLength is < 1 or > MessageLengthLimit
            ? new ArgumentOutOfRangeException(nameof(MaxMessageLength), MaxMessageLength, $"StatusDataOptions.MaxMessageLength must be between 1 and {MessageLengthLimit}.")
        : ReadAttempts is < 1 or > MaxReadAttempts
            ? new ArgumentOutOfRangeException(nameof(ReadAttempts), ReadAttempts, $"StatusDataOptions.ReadAttempts must be between 1 and {MaxReadAttempts}.")
        : null;

    /// <summary><see cref="FindInvalidSetting"/>, for <c>Microsoft.Extensions.Options</c>.</summary>
    internal sealed class Validator : IValidateOptions<StatusDataOptions>
    {
        public ValidateOptionsResult Validate(string? name, StatusDataOptions options) =>
            options.FindInvalidSetting() is { } invalid ? ValidateOptionsResult.Fail(invalid.Message) : ValidateOptionsResult.Success;
    }
}
