using Npgsql;

namespace StatusData.Tests.Transactions;

public sealed class TransactionTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private StatusDatabase Db => new(database.DataSource);

    [Fact]
    public async Task OperationsInACommittedTransactionAllLand()
    {
        var name = Unique.Name();
        await using (var tx = await Db.BeginTransactionAsync(Ct))
        {
            var user = await tx.Users.CreateAsync(name, "T", Unique.Email(name), "hash", null, Ct);
            await tx.StatusUpdates.PostAsync(user.Id, "inside", "tx", 4, null, Ct);
            await tx.CommitAsync(Ct);
        }

        var stored = await Db.Users.GetByUsernameAsync(name, Ct);
        Assert.NotNull(stored);
        Assert.Equal(4, stored.Xp);
        Assert.Single((await Db.StatusUpdates.ListByUserAsync(stored.Id, 10, null, Ct)).Items);
    }

    [Fact]
    public async Task DisposingWithoutCommitRollsEverythingBackIncludingTheCallersOwnSql()
    {
        var name = Unique.Name();
        var existing = Unique.Name();
        var other = await Db.Users.CreateAsync(existing, "O", Unique.Email(existing), "hash", null, Ct);
        await using (var tx = await Db.BeginTransactionAsync(Ct))
        {
            var user = await tx.Users.CreateAsync(name, "T", Unique.Email(name), "hash", null, Ct);
            await tx.StatusUpdates.PostAsync(user.Id, "inside", "tx", 4, null, Ct);
            await using var own = new NpgsqlCommand("UPDATE users SET display_name = 'changed by caller' WHERE id = $1", tx.Connection, tx.Transaction);
            own.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = other.Id });
            Assert.Equal(1, await own.ExecuteNonQueryAsync(Ct));
            Assert.Equal("changed by caller", (await tx.Users.GetByIdAsync(other.Id, Ct))!.DisplayName); // reads its own writes
        }

        Assert.Null(await Db.Users.GetByUsernameAsync(name, Ct));
        Assert.Equal(other, await Db.Users.GetByIdAsync(other.Id, Ct));
    }

    [Fact]
    public async Task AFailureInsideATransactionIsReportedAndRollbackLeavesNothing()
    {
        var name = Unique.Name();
        await using (var tx = await Db.BeginTransactionAsync(Ct))
        {
            await tx.Users.CreateAsync(name, "T", Unique.Email(name), "hash", null, Ct);
            await Assert.ThrowsAsync<UserNotFoundException>(() => tx.StatusUpdates.PostAsync(Guid.NewGuid(), "m", "c", 1, null, Ct));
            await tx.RollbackAsync(Ct);
        }

        Assert.Null(await Db.Users.GetByUsernameAsync(name, Ct));
    }

    /// <summary>Prepared statements inside a caller's transaction commit or roll back together.</summary>
    [Fact]
    public async Task InsideACallersTransactionTheStatementsCommitOrRollBackTogether()
    {
        var db = new StatusDatabase(database.DataSource);
        var kept = Unique.Name();
        var dropped = Unique.Name();
        await using (var tx = await db.BeginTransactionAsync(Ct))
        {
            var user = await tx.Users.CreateAsync(dropped, dropped, Unique.Email(dropped), "hash", null, Ct);
            await tx.StatusUpdates.PostAsync(user.Id, "gone", "general", 1, null, Ct);
            Assert.NotNull(await tx.Users.GetByIdAsync(user.Id, Ct));
        }

        Assert.Null(await db.Users.GetByUsernameAsync(dropped, Ct));

        await using (var tx = await db.BeginTransactionAsync(Ct))
        {
            var user = await tx.Users.CreateAsync(kept, kept, Unique.Email(kept), "hash", null, Ct);
            var posted = await tx.StatusUpdates.PostAsync(user.Id, "kept", "general", 3, null, Ct);
            await tx.CommitAsync(Ct);
            Assert.Equal(posted, await db.StatusUpdates.GetByIdAsync(posted.StatusUpdate.Id, Ct));
        }

        Assert.Equal(3, (await db.Users.GetByUsernameAsync(kept, Ct))!.Xp);
    }
}
