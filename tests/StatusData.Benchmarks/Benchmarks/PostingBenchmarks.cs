using BenchmarkDotNet.Attributes;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>Posting a status update and applying XP and the daily streak to its author.</summary>
public class PostingBenchmarks : BenchmarkBase
{
    private protected override void SetUp() => CreatePosters("poster");

    private protected override void CleanUp() => DeleteCreatedRows();

    [Benchmark]
    [BenchmarkCategory(Operations.Post)]
    public Task Post() => Contender.PostAsync(NextPoster(), Message, "work", 10);
}
