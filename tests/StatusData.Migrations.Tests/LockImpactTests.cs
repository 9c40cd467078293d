using FluentMigrator.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using StatusData.Migrations.Internal;

namespace StatusData.Migrations.Tests;

/// <summary>The lock each kind of step takes, as <c>statusdata-migrate plan</c> will tell it (PostgreSQL 15's lock levels).</summary>
public sealed class LockImpactTests
{
    [Fact]
    public void EachStepNamesItsStrongestLockTheTableAndWhatItBlocks()
    {
        using var services = new ServiceCollection().BuildServiceProvider();
        var context = new MigrationContext(null!, services, connection: null!);
        new OneStepOfEachKind().GetUpExpressions(context);

        var impacts = context.Expressions.Select(e => LockImpact.Of(e).Select(i => $"{i.Mode} | {i.Table} | {i.Effect}").ToList()).ToList();

        string[][] expected =
        [
            ["ACCESS EXCLUSIVE | badges | new table: nobody else uses it yet"],
            ["SHARE ROW EXCLUSIVE | badges | blocks writes to badges until done; reads go on", "SHARE ROW EXCLUSIVE | users | blocks writes to users until done; reads go on"],
            ["SHARE | users | blocks writes to users until done; reads go on"],
            ["SHARE UPDATE EXCLUSIVE | users | blocks neither reads nor writes of users; waits for transactions already using it"],
            ["ACCESS EXCLUSIVE | status_updates | blocks reads and writes of status_updates until done"],
            [], // Alter.Table itself writes no SQL
            ["ACCESS EXCLUSIVE | users | blocks reads and writes of users until done"],
            ["ACCESS EXCLUSIVE | users | blocks reads and writes of users until done"],
            ["SHARE ROW EXCLUSIVE | status_updates | blocks writes to status_updates until done; reads go on", "SHARE ROW EXCLUSIVE | users | blocks writes to users until done; reads go on"],
            ["ACCESS EXCLUSIVE | users | blocks reads and writes of users until done"],
            ["ROW EXCLUSIVE | badges | adds rows to badges; reads and writes go on"],
            ["ROW EXCLUSIVE | users | locks every row of users: other writers of users wait until done; reads go on"],
            ["ROW EXCLUSIVE | status_updates | locks only the rows it changes in status_updates; reads and other writes go on"],
            ["ACCESS EXCLUSIVE | users | blocks reads and writes of users until done"],
            ["ACCESS EXCLUSIVE | badges | blocks reads and writes of badges until done"],
            ["unknown |  | SQL the plan cannot inspect: its locks are unknown"],
        ];
        Assert.True(expected.Length == impacts.Count, string.Join(", ", context.Expressions.Select(e => e.GetType().Name)));
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], impacts[i]);
        }
    }
}
