using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Contenders;
using StatusData.Benchmarks.Infrastructure;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>
/// Importing status updates in bulk (100,000; 20,000 in --quick) into the 1,000,000-row table with all
/// its indexes. Every iteration starts from the same table state: the rows are prepared outside the
/// timing, and after each iteration the imported rows are deleted and the table vacuumed.
/// </summary>
[InvocationCount(1)]
[WarmupCount(1)]
[IterationCount(5)]
public class ImportBenchmarks : BenchmarkBase
{
    private Guid[] _authors = [];
    private StatusUpdate[] _rows = [];
    private List<StatusUpdateRow> _entities = [];

    public override IEnumerable<string> Contenders => [ContenderNames.Raw, ContenderNames.StatusData, ContenderNames.EfCore, ContenderNames.Naive];

    /// <summary>The rows: 100 authors of this process's own, random instants of the seeded year, fresh UUIDv7 ids.</summary>
    private protected override void SetUp()
    {
        _authors = CreateUsers("importer", 100);
        _rows = Rows(_authors, BenchmarkSettings.ImportRows);
    }

    private protected override void CleanUp() => DeleteCreatedRows();

    /// <summary>The rows to import: spread over <paramref name="authors"/>, random instants of the seeded year (so random places in the indexes).</summary>
    internal static StatusUpdate[] Rows(Guid[] authors, int count)
    {
        var random = new Random(7);
        var weights = Seeder.Categories.Select((_, rank) => 1.0 / (rank + 1)).ToArray();
        var total = weights.Sum();
        var rows = new StatusUpdate[count];
        for (var i = 0; i < rows.Length; i++)
        {
            var createdAt = Seeder.RandomInstant(random);
            rows[i] = new StatusUpdate(Guid.CreateVersion7(createdAt), authors[i % authors.Length], Seeder.RandomMessage(random), Seeder.PickCategory(random, weights, total), createdAt);
        }

        return rows;
    }

    /// <summary>EF Core tracks the instances it inserts, so it gets new ones every iteration.</summary>
    [IterationSetup]
    public void BeforeIteration() =>
        _entities = [.. _rows.Select(r => new StatusUpdateRow { Id = r.Id, UserId = r.UserId, Message = r.Message, Category = r.Category, CreatedAt = r.CreatedAt })];

    [IterationCleanup]
    public void AfterIteration()
    {
        Execute("DELETE FROM status_updates WHERE user_id = ANY($1)", _authors);
        Execute("VACUUM status_updates");
    }

    [Benchmark]
    [BenchmarkCategory(Operations.Import)]
    public Task Import() => Contender.ImportAsync(_rows, _entities);
}
