namespace StatusData.Migrations.Internal;

/// <summary>
/// The tables and columns the Python backend's SQLAlchemy models map (tests/PythonApp/app/models), for
/// <see cref="MigrationRules.PythonModelInUse"/>: a migration must not drop or rename what a deployed Python release
/// still queries.
/// </summary>
/// <remarks>
/// A copy, because the library cannot run Python: the test PythonModelsMatchTheSqlAlchemyModels reads
/// <c>Base.metadata</c> of the real models and fails, naming the difference, when this list disagrees with them. When
/// the Python team changes a model, this list changes with it.
/// </remarks>
internal static class PythonModels
{
    /// <summary>Table → its mapped columns, in the models' order.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Tables { get; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
    {
        ["status_updates"] = ["id", "user_id", "message", "category", "created_at"],
        ["users"] = ["id", "username", "display_name", "email", "password_hash", "avatar_url", "xp", "current_streak", "longest_streak", "last_post_date", "created_at"],
    };
}
