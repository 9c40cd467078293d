namespace StatusData;

/// <summary>
/// The select lists that StatusData's own queries map onto <see cref="User"/> and <see cref="StatusUpdate"/>
/// with Dapper, for queries of your own: each column in the record's constructor order, snake_case columns
/// aliased to the parameter names, so Dapper maps them without <c>DefaultTypeMap.MatchNamesWithUnderscores</c>
/// or any other global setting.
/// </summary>
/// <example>
/// <code>
/// await using var connection = await dataSource.OpenConnectionAsync(ct);
/// var veterans = await connection.QueryAsync&lt;User&gt;(new CommandDefinition(
///     $"SELECT {StatusDataColumns.User} FROM users WHERE xp >= @minXp ORDER BY xp DESC",
///     new { minXp = 1000 },
///     cancellationToken: ct));
/// </code>
/// </example>
public static class StatusDataColumns
{
    /// <summary>A <c>users</c> row as a <see cref="User"/>; select it from <c>users</c> alone (the names are unqualified).</summary>
    public const string User =
        "id, username, display_name AS displayname, email, password_hash AS passwordhash, avatar_url AS avatarurl, "
        + "xp, current_streak AS currentstreak, longest_streak AS longeststreak, last_post_date AS lastpostdate, created_at AS createdat";

    /// <summary>A <c>status_updates</c> row as a <see cref="StatusUpdate"/>; select it from <c>status_updates</c> alone.</summary>
    public const string StatusUpdate = "id, user_id AS userid, message, category, created_at AS createdat";
}
