using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Infrastructure;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>
/// The global feed, the page after position 500,000 (50 updates with their authors). Keyset contenders
/// seek with the cursor of row 500,000 (taken in setup); OFFSET contenders skip 500,000 rows, EF Core
/// both ways. All return the same 50 rows (the round-trip pass checks).
/// </summary>
public class DeepFeedBenchmarks : BenchmarkBase
{
    private PageCursor _deep;

    public override IEnumerable<string> Contenders =>
        [ContenderNames.Floor, ContenderNames.Raw, ContenderNames.StatusData, ContenderNames.EfCore, ContenderNames.EfCoreSkipTake, ContenderNames.Naive];

    private protected override void SetUp()
    {
        using var command = Command("SELECT created_at, id FROM status_updates ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1", Seeder.DeepPagePosition - 1);
        using var reader = command.ExecuteReader();
        reader.Read();
        _deep = new PageCursor(reader.GetFieldValue<DateTime>(0), reader.GetGuid(1));
    }

    [Benchmark]
    [BenchmarkCategory(Operations.FeedDeep)]
    public Task FeedDeep() => Contender.GetFeedAsync(Seeder.PageSize, Seeder.DeepPagePosition, _deep);
}
