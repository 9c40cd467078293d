using FluentMigrator.Builders.Delete.Index;
using FluentMigrator.Infrastructure;
using FluentMigrator.Infrastructure.Extensions;
using FluentMigrator.Model;
using FluentMigrator.Postgres;

namespace StatusData.Migrations;

/// <summary>
/// <c>DROP INDEX CONCURRENTLY</c> for FluentMigrator migrations, which FluentMigrator's PostgreSQL extension offers for
/// builds only (<c>Create.Index(..)...WithOptions().AsConcurrently()</c>).
/// </summary>
public static class ConcurrentIndexExtensions
{
    /// <summary>
    /// Drops the index with <c>DROP INDEX CONCURRENTLY IF EXISTS</c>, which blocks neither reads nor writes of its table.
    /// The migration must run outside a transaction: <c>[Migration(version, TransactionBehavior.None, description)]</c>.
    /// IF EXISTS makes a second run after a failed or killed one finish the job.
    /// </summary>
    /// <param name="expression">The options of <c>Delete.Index(name).OnTable(table).WithOptions()</c>.</param>
    /// <returns>The same options, for chaining.</returns>
    /// <example><code>Delete.Index("ix_users_created_at_id").OnTable("users").WithOptions().AsConcurrently();</code></example>
    public static IDeleteIndexOptionsSyntax AsConcurrently(this IDeleteIndexOptionsSyntax expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var features = expression as ISupportAdditionalFeatures
            ?? throw new InvalidOperationException($"{expression.GetType().Name} does not carry index options; call AsConcurrently after Delete.Index(..).OnTable(..).WithOptions().");

        // The same mark FluentMigrator's PostgreSQL extension sets for a concurrent build; StatusData's generator reads it for drops.
        features.GetAdditionalFeature(PostgresExtensions.Concurrently, () => new PostgresIndexConcurrentlyDefinition()).IsConcurrently = true;
        return expression;
    }
}
