namespace StatusData.Benchmarks.Contenders;

/// <summary>
/// A <c>users</c> row as a typical application maps it, a mutable POCO: EF Core's entity (with its
/// status updates as a navigation) and naive Dapper's row.
/// </summary>
public sealed class UserRow
{
    public Guid Id { get; set; }

    public string Username { get; set; } = string.Empty;

    public string DisplayName { get; set; } = string.Empty;

    public string Email { get; set; } = string.Empty;

    public string PasswordHash { get; set; } = string.Empty;

    public string? AvatarUrl { get; set; }

    public int Xp { get; set; }

    public int CurrentStreak { get; set; }

    public int LongestStreak { get; set; }

    public DateOnly? LastPostDate { get; set; }

    public DateTime CreatedAt { get; set; }

    public List<StatusUpdateRow> StatusUpdates { get; } = [];

    /// <summary>Read-modify-write posting: XP and the daily streak for a post on <paramref name="today"/>, computed in C#.</summary>
    public void ApplyPost(int xpAward, DateOnly today)
    {
        CurrentStreak = LastPostDate == today ? CurrentStreak
            : LastPostDate == today.AddDays(-1) ? CurrentStreak + 1
            : 1;
        LongestStreak = Math.Max(LongestStreak, CurrentStreak);
        LastPostDate = today;
        Xp += xpAward;
    }
}

/// <summary>A <c>status_updates</c> row as a typical application maps it, with its author as a navigation.</summary>
public sealed class StatusUpdateRow
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public string Message { get; set; } = string.Empty;

    public string Category { get; set; } = string.Empty;

    public DateTime CreatedAt { get; set; }

    public UserRow? Author { get; set; }
}
