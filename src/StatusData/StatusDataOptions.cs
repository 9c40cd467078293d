namespace StatusData;

/// <summary>Settings of StatusData.</summary>
public sealed class StatusDataOptions
{
    /// <summary>The largest <see cref="MaxMessageLength"/> that can be configured (1 MiB of code points).</summary>
    public const int MessageLengthLimit = 1_048_576;

    /// <summary>
    /// The longest status message accepted, in characters as PostgreSQL counts them (Unicode code
    /// points). <c>message</c> is a <c>text</c> column with no limit of its own; this cap keeps one
    /// request from storing megabytes. Default 5,000; at most <see cref="MessageLengthLimit"/>.
    /// </summary>
    public int MaxMessageLength { get; set; } = 5_000;

    /// <summary>
    /// How many times a read (a Get or List method, outside a transaction) is attempted when it fails
    /// with a <see cref="TransientDatabaseException"/>. Default 1: no retry. Writes are never retried:
    /// when a connection breaks mid-write, whether it committed is unknown, and retrying could apply it twice.
    /// </summary>
    public int ReadAttempts { get; set; } = 1;

    /// <summary>Throws if a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    internal void Validate()
    {
        if (MaxMessageLength is < 1 or > MessageLengthLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageLength), MaxMessageLength, $"StatusDataOptions.MaxMessageLength must be between 1 and {MessageLengthLimit}.");
        }

        if (ReadAttempts is < 1 or > 10)
        {
            throw new ArgumentOutOfRangeException(nameof(ReadAttempts), ReadAttempts, "StatusDataOptions.ReadAttempts must be between 1 and 10.");
        }
    }
}
