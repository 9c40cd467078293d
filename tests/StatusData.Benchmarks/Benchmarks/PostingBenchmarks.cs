using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Contenders;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>Posting a status update and applying XP and the daily streak to its author.</summary>
public class PostingBenchmarks : BenchmarkBase
{
    private const string Message = "Shipped the benchmarks today, and the streak goes on";
    private const string Category = "work";
    private const int Xp = 10;

    private Guid[] _posters = [];
    private int _turn;

    /// <summary>
    /// 10,000 users of this process's own take turns posting; they and their posts are deleted afterwards.
    /// So many, because a few users updated thousands of times a second (with autovacuum off) pile up
    /// dead row versions and index entries, and each iteration would then be slower than the one before,
    /// the more so the faster the contender: a hot spot no real app has.
    /// </summary>
    [GlobalSetup]
    public void Setup()
    {
        SetUpContenders();
        _posters = CreateUsers("poster", 10_000);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        DeleteCreatedRows();
        TearDownContenders();
    }

    [Benchmark]
    [BenchmarkCategory(Operations.Post)]
    [Contender(ContenderNames.Floor)]
    public Task<int> Floor_Post() => Raw.SelectOneAsync();

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.Post)]
    [Contender(ContenderNames.Raw)]
    public Task<StatusUpdateWithAuthor> Raw_Post() => Raw.PostAsync(NextPoster(), Message, Category, Xp);

    [Benchmark]
    [BenchmarkCategory(Operations.Post)]
    [Contender(ContenderNames.StatusData)]
    public Task<StatusUpdateWithAuthor> StatusData_Post() => StatusData.StatusUpdates.PostAsync(NextPoster(), Message, Category, Xp);

    [Benchmark]
    [BenchmarkCategory(Operations.Post)]
    [Contender(ContenderNames.EfCore)]
    public Task<StatusUpdateEntity> EfCore_Post() => Ef.PostAsync(NextPoster(), Message, Category, Xp);

    [Benchmark]
    [BenchmarkCategory(Operations.Post)]
    [Contender(ContenderNames.Naive)]
    public Task<StatusUpdateRow> Naive_Post() => Naive.PostAsync(NextPoster(), Message, Category, Xp);

    private Guid NextPoster() => _posters[_turn++ % _posters.Length];
}
