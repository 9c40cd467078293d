using System.Diagnostics.CodeAnalysis;
using Npgsql;
using StatusData.Migrations.Internal;

namespace StatusData.Migrations;

/// <summary>What <see cref="ApplicationRole.GrantAsync"/> did.</summary>
/// <param name="Role">The role, as given.</param>
/// <param name="Created">Whether the role was created (as NOLOGIN) because it did not exist.</param>
/// <param name="Statements">The statements that were run, in order, as the server quoted them.</param>
/// <param name="Warnings">Things that weaken least privilege and that this call does not change, e.g. CREATE on the schema granted to PUBLIC.</param>
public sealed record ApplicationRoleResult(string Role, bool Created, IReadOnlyList<string> Statements, IReadOnlyList<string> Warnings);

/// <summary>
/// Least privilege for the application: the database role the application (StatusData, or the Python
/// side) connects as needs to read and write rows of <c>users</c> and <c>status_updates</c>, and
/// nothing else: no DDL, no TRUNCATE, no ownership. The migrator (the tables' owner) grants it once,
/// after <c>up</c>; the application then connects as a LOGIN role that is, or is a member of, this role.
/// </summary>
/// <remarks>
/// Identifiers are never concatenated into SQL here: the server builds every statement with
/// <c>format('%I')</c> (quote_ident) from parameters, and the statements it returns are run as they are.
/// </remarks>
public static class ApplicationRole
{
    /// <summary>The tables the application reads and writes.</summary>
    public static IReadOnlyList<string> Tables { get; } = ["users", "status_updates"];

    /// <summary>
    /// Makes <paramref name="role"/>'s privileges on <see cref="Tables"/> exactly SELECT, INSERT,
    /// UPDATE and DELETE (any other table privilege it had on them is revoked), and grants it CONNECT on
    /// the database and USAGE on the schema. One transaction: all of it or nothing. Running it again
    /// changes nothing.
    /// </summary>
    /// <param name="dataSource">The migrated database, as its owner (the migrator).</param>
    /// <param name="role">The role's name, exactly (case-sensitive, any characters; at most 63 bytes).</param>
    /// <param name="createIfMissing">
    /// Create the role if it does not exist, as a NOLOGIN group role: give people or services LOGIN roles
    /// of their own that are members of it (<c>CREATE ROLE app_login LOGIN PASSWORD '…' IN ROLE …</c>).
    /// Passwords never go through this API or the command line.
    /// </param>
    /// <param name="lockTimeout">
    /// How long each statement may wait for a lock (<c>SET LOCAL lock_timeout</c>), e.g. behind another
    /// transaction's uncommitted GRANT on the same table; <see langword="null"/> keeps the session's own
    /// <c>lock_timeout</c>, which by default waits for ever.
    /// </param>
    /// <param name="cancellationToken">Cancels the call; the transaction then rolls back.</param>
    /// <returns>What was run.</returns>
    /// <exception cref="MigrationException">
    /// The role does not exist (<see cref="MigrationFailure.InvalidRequest"/>); the role is a superuser or
    /// owns a table, so least privilege is impossible (<see cref="MigrationFailure.Refused"/>); or the
    /// database refused a statement, e.g. the tables do not exist yet (<see cref="MigrationFailure.MigrationFailed"/>);
    /// or a wait for a lock outlasted <paramref name="lockTimeout"/> or the session's <c>lock_timeout</c> (<see cref="MigrationFailure.LockTimeout"/>).
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lockTimeout"/> is not positive, or longer than PostgreSQL's lock_timeout takes (<see cref="StatusDataMigrator.MaxLockTimeout"/>).</exception>
    public static async Task<ApplicationRoleResult> GrantAsync(
        NpgsqlDataSource dataSource, string role, bool createIfMissing = false, TimeSpan? lockTimeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrWhiteSpace(role);
        if (role.Contains('\0', StringComparison.Ordinal) || System.Text.Encoding.UTF8.GetByteCount(role) > 63)
        {
            throw new ArgumentException("A role name is at most 63 bytes (UTF-8) and holds no NUL character.", nameof(role));
        }

        string? lockTimeoutSetting = null;
        if (lockTimeout is { } timeout)
        {
            LockTimeout.Validate(timeout, nameof(lockTimeout));
            lockTimeoutSetting = LockTimeout.Setting(timeout);
        }

        var connection = await ServerConnection.OpenAsync(dataSource, cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var transactionScope = transaction.ConfigureAwait(false);
        var statements = new List<string>();
        var warnings = new List<string>();
        var created = false;
        try
        {
            if (lockTimeoutSetting is not null)
            {
                await QueryAsync(connection, "SELECT set_config('lock_timeout', $1, true)", lockTimeoutSetting, cancellationToken).ConfigureAwait(false);
            }

            var existing = await QueryAsync(connection, "SELECT rolsuper::text FROM pg_roles WHERE rolname = $1", role, cancellationToken).ConfigureAwait(false);
            if (existing.Count == 0)
            {
                if (!createIfMissing)
                {
                    throw new MigrationException(
                        MigrationFailure.InvalidRequest,
                        $"Role \"{role}\" does not exist. Create it first (e.g. CREATE ROLE ... LOGIN PASSWORD ...), or let this create it as a NOLOGIN group role (--create) and make LOGIN roles members of it. Nothing was changed.");
                }

                statements.AddRange(await QueryAsync(connection, "SELECT format('CREATE ROLE %I NOLOGIN', $1::text)", role, cancellationToken).ConfigureAwait(false));
                await ExecuteAsync(connection, statements[^1], cancellationToken).ConfigureAwait(false);
                created = true;
            }
            else if (existing[0] == "true")
            {
                throw new MigrationException(MigrationFailure.Refused, $"Role \"{role}\" is a superuser: it bypasses every privilege, so it cannot be a least-privilege application role. Nothing was changed.");
            }

            const string owners = """
                SELECT c.relname FROM pg_class c
                WHERE c.oid IN (to_regclass('users'), to_regclass('status_updates'))
                  AND pg_has_role($1::name, c.relowner, 'USAGE')
                ORDER BY c.relname
                """;
            var owned = await QueryAsync(connection, owners, role, cancellationToken).ConfigureAwait(false);
            if (owned.Count > 0)
            {
                throw new MigrationException(MigrationFailure.Refused, $"Role \"{role}\" owns (or is a member of the owner of) {string.Join(", ", owned)}: owners may alter and drop their tables, so it cannot be a least-privilege application role. Nothing was changed.");
            }

            // Built by the server from parameters: %I quotes identifiers (quote_ident), so any role name is safe.
            const string grants = """
                SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1::text)
                UNION ALL SELECT format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), $1::text)
                UNION ALL SELECT format('REVOKE ALL ON TABLE %I.%I, %I.%I FROM %I', current_schema(), 'users', current_schema(), 'status_updates', $1::text)
                UNION ALL SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I.%I, %I.%I TO %I', current_schema(), 'users', current_schema(), 'status_updates', $1::text)
                """;
            foreach (var statement in await QueryAsync(connection, grants, role, cancellationToken).ConfigureAwait(false))
            {
                await ExecuteAsync(connection, statement, cancellationToken).ConfigureAwait(false);
                statements.Add(statement);
            }

            const string canCreate = "SELECT has_schema_privilege($1::name, current_schema(), 'CREATE')::text";
            if ((await QueryAsync(connection, canCreate, role, cancellationToken).ConfigureAwait(false))[0] == "true")
            {
                warnings.Add($"Role \"{role}\" may CREATE objects in the schema (PUBLIC has CREATE on schema public before PostgreSQL 15). Consider: REVOKE CREATE ON SCHEMA public FROM PUBLIC.");
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e)
        {
            // 55P03: lock_timeout ran out, e.g. behind another transaction's uncommitted GRANT on the same table.
            var failure = e.SqlState == PostgresErrorCodes.LockNotAvailable ? MigrationFailure.LockTimeout : MigrationFailure.MigrationFailed;
            throw new MigrationException(failure, $"Granting role \"{role}\" failed: {e.SqlState} {e.MessageText}. Nothing was changed. (Run 'up' first if the tables do not exist; run this as the tables' owner.)", e);
        }

        return new ApplicationRoleResult(role, created, statements, warnings);
    }

    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "Every caller passes a const string; the role (or setting) goes in as a parameter. SqlIsConstantTests follows this parameter to the callers.")]
    private static async Task<List<string>> QueryAsync(NpgsqlConnection connection, string sql, string argument, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = argument });
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var values = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "Runs the statements the server built with format('%I') from the role passed as a parameter (QueryAsync above); nothing is concatenated here.")]
    private static async Task ExecuteAsync(NpgsqlConnection connection, string statement, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(statement, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
