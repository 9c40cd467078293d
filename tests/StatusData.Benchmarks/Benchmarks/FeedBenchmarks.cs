using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Contenders;
using StatusData.Benchmarks.Infrastructure;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>
/// The global feed, 50 updates with their authors, newest first, over 1,000,000 updates: page 1, and
/// the page after position 500,000. Keyset contenders seek with the cursor of row 500,000 (taken in
/// setup); OFFSET contenders skip 500,000 rows. Both return the same 50 rows (the round-trip pass checks).
/// </summary>
public class FeedBenchmarks : BenchmarkBase
{
    private const int Limit = Seeder.PageSize;
    private const int Offset = Seeder.DeepPagePosition;

    private PageCursor _deep;

    [GlobalSetup]
    public void Setup()
    {
        SetUpContenders();
        using var command = Admin.CreateCommand($"SELECT created_at, id FROM status_updates ORDER BY created_at DESC, id DESC OFFSET {Offset - 1} LIMIT 1");
        using var reader = command.ExecuteReader();
        reader.Read();
        _deep = new PageCursor(reader.GetFieldValue<DateTime>(0), reader.GetGuid(1));
    }

    [GlobalCleanup]
    public void Cleanup() => TearDownContenders();

    [Benchmark]
    [BenchmarkCategory(Operations.FeedFirst)]
    [Contender(ContenderNames.Floor)]
    public Task<int> Floor_FeedFirst() => Raw.SelectOneAsync();

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.FeedFirst)]
    [Contender(ContenderNames.Raw)]
    public Task<Page<StatusUpdateWithAuthor>> Raw_FeedFirst() => Raw.GetFeedAsync(Limit, null);

    [Benchmark]
    [BenchmarkCategory(Operations.FeedFirst)]
    [Contender(ContenderNames.StatusData)]
    public Task<Page<StatusUpdateWithAuthor>> StatusData_FeedFirst() => StatusData.StatusUpdates.GetFeedAsync(Limit);

    [Benchmark]
    [BenchmarkCategory(Operations.FeedFirst)]
    [Contender(ContenderNames.EfCore)]
    public Task<List<StatusUpdateEntity>> EfCore_FeedFirst() => Ef.GetFeedFirstPageAsync(Limit);

    [Benchmark]
    [BenchmarkCategory(Operations.FeedFirst)]
    [Contender(ContenderNames.Naive)]
    public Task<List<StatusUpdateRow>> Naive_FeedFirst() => Naive.GetFeedAsync(0, Limit);

    [Benchmark]
    [BenchmarkCategory(Operations.FeedDeep)]
    [Contender(ContenderNames.Floor)]
    public Task<int> Floor_FeedDeep() => Raw.SelectOneAsync();

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.FeedDeep)]
    [Contender(ContenderNames.Raw)]
    public Task<Page<StatusUpdateWithAuthor>> Raw_FeedDeep() => Raw.GetFeedAsync(Limit, _deep);

    [Benchmark]
    [BenchmarkCategory(Operations.FeedDeep)]
    [Contender(ContenderNames.StatusData)]
    public Task<Page<StatusUpdateWithAuthor>> StatusData_FeedDeep() => StatusData.StatusUpdates.GetFeedAsync(Limit, _deep);

    [Benchmark]
    [BenchmarkCategory(Operations.FeedDeep)]
    [Contender(ContenderNames.EfCore)]
    public Task<List<StatusUpdateEntity>> EfCore_FeedDeep() => Ef.GetFeedAfterAsync(_deep, Limit);

    [Benchmark]
    [BenchmarkCategory(Operations.FeedDeep)]
    [Contender(ContenderNames.EfCoreSkipTake)]
    public Task<List<StatusUpdateEntity>> EfCoreSkipTake_FeedDeep() => Ef.GetFeedSkipTakeAsync(Offset, Limit);

    [Benchmark]
    [BenchmarkCategory(Operations.FeedDeep)]
    [Contender(ContenderNames.Naive)]
    public Task<List<StatusUpdateRow>> Naive_FeedDeep() => Naive.GetFeedAsync(Offset, Limit);
}
