using System.Text;

namespace StatusData;

/// <summary>A row of <c>users</c>, column for column.</summary>
/// <param name="Id">Primary key. StatusData generates UUIDv7 ids; rows from the Python side carry UUIDv4 ids.</param>
/// <param name="Username">Unique, at most 50 characters.</param>
/// <param name="DisplayName">At most 100 characters.</param>
/// <param name="Email">Unique (case-sensitive, as in the database), at most 255 characters.</param>
/// <param name="PasswordHash">The stored hash; never printed by <see cref="ToString"/>.</param>
/// <param name="AvatarUrl">At most 500 characters, or <see langword="null"/>.</param>
/// <param name="Xp">Experience points earned by posting.</param>
/// <param name="CurrentStreak">Consecutive days with a post, up to <see cref="LastPostDate"/>.</param>
/// <param name="LongestStreak">The longest streak ever reached.</param>
/// <param name="LastPostDate">The (user-local) day of the last post, or <see langword="null"/> before the first.</param>
/// <param name="CreatedAt">When the user was created, UTC (<see cref="DateTimeKind.Utc"/>), microsecond precision.</param>
/// <remarks>
/// A persistence shape: it mirrors the table, and an API should map it to its own response types
/// rather than serialize it (it holds <see cref="PasswordHash"/>). It has no navigation to the user's
/// status updates, so equality and printing never recurse; load them with
/// <see cref="IUserRepository.GetWithStatusUpdatesAsync"/>.
/// </remarks>
public sealed record User(
    Guid Id,
    string Username,
    string DisplayName,
    string Email,
    string PasswordHash,
    string? AvatarUrl,
    int Xp,
    int CurrentStreak,
    int LongestStreak,
    DateOnly? LastPostDate,
    DateTime CreatedAt)
{
    // Records print every property; the hash must not reach logs.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Id = ").Append(Id)
            .Append(", Username = ").Append(Username)
            .Append(", DisplayName = ").Append(DisplayName)
            .Append(", Email = ").Append(Email)
            .Append(", PasswordHash = ***")
            .Append(", AvatarUrl = ").Append(AvatarUrl)
            .Append(", Xp = ").Append(Xp)
            .Append(", CurrentStreak = ").Append(CurrentStreak)
            .Append(", LongestStreak = ").Append(LongestStreak)
            .Append(", LastPostDate = ").Append(LastPostDate?.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture))
            .Append(", CreatedAt = ").Append(CreatedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        return true;
    }
}
