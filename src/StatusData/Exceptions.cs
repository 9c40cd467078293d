namespace StatusData;

/// <summary>The base of the errors StatusData raises about the data (not about arguments, which are <see cref="ArgumentException"/>s).</summary>
public abstract class StatusDataException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened, in the caller's terms.</param>
    /// <param name="innerException">The database error behind it, if any.</param>
    protected StatusDataException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>A unique value is already taken: a username or an email. Nothing was written.</summary>
public sealed class DuplicateValueException : StatusDataException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="field">The field whose value is taken: <c>username</c> or <c>email</c>.</param>
    /// <param name="innerException">The unique violation (SQLSTATE 23505).</param>
    public DuplicateValueException(string field, Exception? innerException = null)
        : base($"The {field} is already taken by another user. Nothing was written.", innerException) => Field = field;

    /// <summary>The field whose value is taken: <c>username</c> or <c>email</c>.</summary>
    public string Field { get; }
}

/// <summary>The user does not exist (or was deleted meanwhile). Nothing was written.</summary>
public sealed class UserNotFoundException : StatusDataException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="userId">The id that was not found.</param>
    /// <param name="innerException">The database error behind it, if any (SQLSTATE 23503).</param>
    public UserNotFoundException(Guid userId, Exception? innerException = null)
        : base($"User {userId} does not exist. Nothing was written.", innerException) => UserId = userId;

    /// <summary>The id that was not found.</summary>
    public Guid UserId { get; }
}

/// <summary>
/// The database could not complete the call for a reason that may pass: the connection broke (server
/// restart, backend terminated), the pool had no free connection in time, a statement timeout or a
/// deadlock. Retrying later may succeed.
/// </summary>
public sealed class TransientDatabaseException : StatusDataException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened, naming the cause.</param>
    /// <param name="outcomeUnknown">Whether a write may have been committed although the call failed.</param>
    /// <param name="innerException">The Npgsql error.</param>
    public TransientDatabaseException(string message, bool outcomeUnknown, Exception innerException)
        : base(message, innerException) => OutcomeUnknown = outcomeUnknown;

    /// <summary>
    /// <see langword="true"/> when this was a write whose commit outcome the client cannot know (the
    /// connection broke after the statement was sent). Check before retrying: a blind retry could post
    /// twice. <see langword="false"/> for reads, and for writes that certainly did not happen.
    /// </summary>
    public bool OutcomeUnknown { get; }
}
