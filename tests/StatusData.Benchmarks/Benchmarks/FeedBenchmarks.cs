using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Infrastructure;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>The global feed, page 1: the 50 newest of 1,000,000 updates, with their authors.</summary>
public class FeedBenchmarks : BenchmarkBase
{
    [Benchmark]
    [BenchmarkCategory(Operations.FeedFirst)]
    public Task FeedFirst() => Contender.GetFeedAsync(Seeder.PageSize, 0, null);
}
