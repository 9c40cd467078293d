using System.Reflection;
using FluentMigrator;
using StatusData.Migrations.Internal;

namespace StatusData.Migrations.Tests;

/// <summary>
/// The migration rules (squawk's and strong_migrations' catalogue, read from FluentMigrator's expressions): no shipped
/// migration breaks one, each rule fires on a migration that breaks it and stays quiet on its safe counterpart, a
/// waiver silences exactly its rule, and the Python models the rules protect are the real ones.
/// </summary>
public sealed class MigrationRuleTests
{
    private const string Unreachable = "Host=127.0.0.1;Port=1";

    [Fact]
    public void NoShippedMigrationBreaksARule()
    {
        var violations = Known.BuiltIn().SelectMany(m => MigrationRules.Check(m.GetType().GetCustomAttribute<MigrationAttribute>()!.Version, m)).ToList();

        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
        Assert.Equal(2, Known.BuiltIn().Count); // the check saw both
    }

    [Fact]
    public void AnIndexBuiltOrDroppedWithoutConcurrentlyOnAnExistingTableBreaksIndexWithoutConcurrently()
    {
        Assert.Equal([("index-without-concurrently", "index ix_users_display_name on users")], Broken(new IndexOnExistingTable()));
        Assert.Equal([("index-without-concurrently", "drop of index ix_status_updates_user_id on status_updates")], Broken(new DropIndexOnExistingTable()));
        Assert.Equal([("index-without-concurrently", "unique constraint users_display_name_key on users")], Broken(new UniqueConstraintOnExistingTable()));
        Assert.Empty(Broken(new ConcurrentIndexesOnExistingTable()));
    }

    [Fact]
    public void AViolationSaysWhereWhyWhatInsteadAndHowToWaive()
    {
        var violation = Assert.Single(MigrationRules.Check(202612020000, new IndexOnExistingTable()));

        Assert.StartsWith(
            "202612020000: index ix_users_display_name on users breaks index-without-concurrently. CREATE INDEX on an existing table holds a SHARE lock",
            violation.ToString(), StringComparison.Ordinal);
        Assert.Contains(" Instead: Build or drop the index with .WithOptions().AsConcurrently()", violation.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("(If it is safe here, waive it with [WaivesMigrationRule(\"index-without-concurrently\", \"why\")].)", violation.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void NothingDoneToATableCreatedInTheSameMigrationBreaksARule() =>
        Assert.Empty(Broken(new EverythingOnANewTable()));

    [Fact]
    public void ARequiredColumnWithoutADefaultOnAnExistingTableBreaksNotNullColumnWithoutDefault()
    {
        Assert.Equal(
            [("not-null-column-without-default", "column users.nickname"), ("not-null-column-without-default", "column users.bio")],
            Broken(new NotNullColumnsOnExistingTable()));
        Assert.Empty(Broken(new SafeColumnsOnExistingTable()));
    }

    [Fact]
    public void AlteringAColumnOfAnExistingTableBreaksColumnTypeChange() =>
        Assert.Equal([("column-type-change", "column users.display_name")], Broken(new ColumnTypeChangeOnExistingTable()));

    [Fact]
    public void AForeignKeyAddedToAnExistingTableBreaksConstraintWithoutNotValid() =>
        Assert.Equal(
            [("constraint-without-not-valid", "foreign key status_updates_user_id_fkey2 on status_updates referencing users")],
            Broken(new ForeignKeyOnExistingTable()));

    [Fact]
    public void SettingNotNullOnAnExistingColumnBreaksSetNotNull() =>
        Assert.Equal([("set-not-null", "column users.avatar_url")], Broken(new SetNotNullOnExistingColumn()));

    [Fact]
    public void DroppingOrRenamingWhatThePythonModelsMapBreaksPythonModelInUse()
    {
        Assert.Equal(
            [
                ("python-model-in-use", "drop of column users.avatar_url, which the Python models map"),
                ("python-model-in-use", "rename of column users.xp to points, which the Python models map"),
                ("python-model-in-use", "rename of table users to accounts, which the Python models map"),
                ("python-model-in-use", "drop of table status_updates, which the Python models map"),
            ],
            Broken(new DropsAndRenamesWhatPythonUses()));
        Assert.Empty(Broken(new DropsWhatPythonDoesNotUse()));
    }

    [Fact]
    public void EveryRuleHasANameAReasonASafeAlternativeAndAMigrationThatBreaksIt()
    {
        IMigration[] breakers =
        [
            new IndexOnExistingTable(), new NotNullColumnsOnExistingTable(), new ColumnTypeChangeOnExistingTable(),
            new ForeignKeyOnExistingTable(), new SetNotNullOnExistingColumn(), new DropsAndRenamesWhatPythonUses(),
        ];

        Assert.Equal(MigrationRules.All.Select(r => r.Name), breakers.SelectMany(Broken).Select(b => b.Rule).Distinct());
        Assert.All(MigrationRules.All, rule =>
        {
            Assert.Matches("^[a-z]+(-[a-z]+)+$", rule.Name);
            Assert.True(rule.Reason.Length > 80 && rule.SafeAlternative.Length > 80, rule.Name);
        });
        Assert.Equal(MigrationRules.All.Count, MigrationRules.All.Select(r => r.Name).Distinct().Count());
    }

    [Fact]
    public void AWaiverSilencesItsRuleForThatMigrationOnly()
    {
        // The same Alter.Column(..).NotNullable() breaks two rules; the waived migration reports only the other one.
        Assert.Equal(
            [("column-type-change", "column users.avatar_url"), ("set-not-null", "column users.avatar_url")],
            Broken(new SetNotNullUnwaived()));
        Assert.Equal([("set-not-null", "column users.avatar_url")], Broken(new SetNotNullOnExistingColumn()));

        var waiver = Assert.Single(typeof(SetNotNullOnExistingColumn).GetCustomAttributes<WaivesMigrationRuleAttribute>());
        Assert.Equal("column-type-change", waiver.Rule);
        Assert.Equal("restates varchar(500), the type avatar_url already has: no rewrite", waiver.Reason);
        _ = new StatusDataMigrator(Unreachable, new StatusDataMigratorOptions { Migrations = [.. Known.BuiltIn(), new SetNotNullOnExistingColumn()] });
    }

    [Fact]
    public void AWaiverWithoutAReasonOfAnUnknownRuleOrOfOneRuleTwiceIsRejected()
    {
        var blank = Assert.Throws<ArgumentException>(() => new StatusDataMigrator(Unreachable, new StatusDataMigratorOptions { Migrations = [new WaiverWithoutReason()] }));
        var unknown = Assert.Throws<ArgumentException>(() => new StatusDataMigrator(Unreachable, new StatusDataMigratorOptions { Migrations = [new WaiverOfUnknownRule()] }));
        var twice = Assert.Throws<ArgumentException>(() => new StatusDataMigrator(Unreachable, new StatusDataMigratorOptions { Migrations = [new WaiverTwice()] }));

        Assert.StartsWith($"Migration {typeof(WaiverWithoutReason).FullName} waives column-type-change without a reason; say why it is safe here.", blank.Message, StringComparison.Ordinal);
        Assert.StartsWith(
            $"Migration {typeof(WaiverOfUnknownRule).FullName} waives 'column-type-changes', which is not a migration rule. The rules are: "
            + "index-without-concurrently, not-null-column-without-default, column-type-change, constraint-without-not-valid, set-not-null, python-model-in-use.",
            unknown.Message, StringComparison.Ordinal);
        Assert.StartsWith($"Migration {typeof(WaiverTwice).FullName} waives column-type-change twice", twice.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PythonModelsMatchTheSqlAlchemyModels()
    {
        var python = await PythonApp.ModelsAsync();

        var differences = python.Keys.Union(PythonModels.Tables.Keys).Order(StringComparer.Ordinal)
            .Select(table => (python.GetValueOrDefault(table), PythonModels.Tables.GetValueOrDefault(table)) switch
            {
                (null, _) => $"PythonModels.cs lists table {table}, which no SQLAlchemy model maps",
                (_, null) => $"the SQLAlchemy models map table {table}, which PythonModels.cs lacks",
                var (mapped, listed) when !mapped.Order(StringComparer.Ordinal).SequenceEqual(listed.Order(StringComparer.Ordinal)) =>
                    $"table {table}: the SQLAlchemy models map [{string.Join(", ", mapped)}], PythonModels.cs lists [{string.Join(", ", listed)}]",
                _ => null,
            })
            .OfType<string>()
            .ToList();

        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
        Assert.Contains("users", python.Keys); // the models were read, not an empty metadata
    }

    private static List<(string Rule, string Subject)> Broken(IMigration migration) =>
        MigrationRules.Check(migration.GetType().GetCustomAttribute<MigrationAttribute>()!.Version, migration)
            .Select(v => (v.Rule.Name, v.Subject))
            .ToList();
}
