namespace StatusData;

/// <summary>Reads and writes <c>users</c>. Every method is one statement or one atomic batch.</summary>
/// <remarks>What cancelling a call means for the data: see <see cref="IStatusDatabase"/>.</remarks>
public interface IUserRepository
{
    /// <summary>Creates a user with a new UUIDv7 id, <c>created_at</c> = now (UTC, from the TimeProvider), and XP and streaks at 0.</summary>
    /// <param name="username">Unique; 1–50 characters.</param>
    /// <param name="displayName">1–100 characters.</param>
    /// <param name="email">Unique; 1–255 characters. Stored as given (compare and normalize in the app).</param>
    /// <param name="passwordHash">The hash (never the password): 1–255 characters. See docs/library.md for the hashing to use.</param>
    /// <param name="avatarUrl">1–500 characters, or <see langword="null"/>.</param>
    /// <returns>The user as stored.</returns>
    /// <exception cref="ArgumentException">A value is empty, too long, or holds a NUL or an unpaired surrogate; the parameter is named.</exception>
    /// <exception cref="DuplicateValueException">The username or email is taken.</exception>
    Task<User> CreateAsync(string username, string displayName, string email, string passwordHash, string? avatarUrl = null, CancellationToken cancellationToken = default);

    /// <summary>Gets a user by id.</summary>
    /// <param name="id">The id.</param>
    /// <returns>The user, or <see langword="null"/>.</returns>
    Task<User?> GetByIdAsync(Guid id, CancellationToken cancellationToken = default);

    /// <summary>Gets a user by username (exact, case-sensitive).</summary>
    /// <param name="username">The username.</param>
    /// <returns>The user, or <see langword="null"/>.</returns>
    Task<User?> GetByUsernameAsync(string username, CancellationToken cancellationToken = default);

    /// <summary>Gets a user by email (exact, case-sensitive).</summary>
    /// <param name="email">The email.</param>
    /// <returns>The user, or <see langword="null"/>.</returns>
    Task<User?> GetByEmailAsync(string email, CancellationToken cancellationToken = default);

    /// <summary>Replaces the profile fields: display name, email and avatar URL.</summary>
    /// <param name="id">The user.</param>
    /// <param name="displayName">1–100 characters.</param>
    /// <param name="email">Unique; 1–255 characters.</param>
    /// <param name="avatarUrl">1–500 characters, or <see langword="null"/> to remove it.</param>
    /// <returns>The updated user.</returns>
    /// <exception cref="UserNotFoundException">No such user.</exception>
    /// <exception cref="DuplicateValueException">The email is taken by another user.</exception>
    Task<User> UpdateProfileAsync(Guid id, string displayName, string email, string? avatarUrl, CancellationToken cancellationToken = default);

    /// <summary>Replaces the password hash.</summary>
    /// <param name="id">The user.</param>
    /// <param name="passwordHash">The new hash: 1–255 characters.</param>
    /// <returns>A task that completes when the hash is stored.</returns>
    /// <exception cref="UserNotFoundException">No such user.</exception>
    Task SetPasswordHashAsync(Guid id, string passwordHash, CancellationToken cancellationToken = default);

    /// <summary>Deletes a user and all of their status updates, atomically (the ORM's cascade).</summary>
    /// <param name="id">The user.</param>
    /// <returns><see langword="true"/> if the user existed.</returns>
    Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken = default);

    /// <summary>The top users by XP; ties are broken by id, so the order is stable.</summary>
    /// <param name="count">How many: 1–1000.</param>
    /// <returns>Users by XP descending, then id ascending.</returns>
    Task<IReadOnlyList<User>> GetLeaderboardAsync(int count, CancellationToken cancellationToken = default);

    /// <summary>Lists users in sign-up order (<c>created_at</c>, then id), one keyset page at a time.</summary>
    /// <param name="limit">Page size: 1–1000.</param>
    /// <param name="after">The previous page's <see cref="Page{T}.Next"/>; <see langword="null"/> for the first page.</param>
    /// <returns>The page.</returns>
    Task<Page<User>> ListAsync(int limit, PageCursor? after = null, CancellationToken cancellationToken = default);

    /// <summary>A user with all of their status updates, newest first: two queries in one round trip.</summary>
    /// <param name="id">The user.</param>
    /// <returns>The user and updates, or <see langword="null"/> if there is no such user.</returns>
    Task<UserWithStatusUpdates?> GetWithStatusUpdatesAsync(Guid id, CancellationToken cancellationToken = default);

    /// <summary>Any number of users with their status updates: one query for the users and one for all their updates, in one round trip. Never N+1.</summary>
    /// <param name="ids">The users; unknown ids are left out of the result; duplicates count once.</param>
    /// <returns>The users found, in the order of <paramref name="ids"/>, each with their updates newest first.</returns>
    Task<IReadOnlyList<UserWithStatusUpdates>> GetManyWithStatusUpdatesAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken = default);
}
