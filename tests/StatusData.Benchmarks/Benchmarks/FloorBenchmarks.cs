using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>The floor: a pooled connection checkout and one prepared <c>SELECT 1</c> round trip.</summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class FloorBenchmarks : BenchmarkBase
{
    [GlobalSetup]
    public void Setup() => SetUpContenders();

    [GlobalCleanup]
    public void Cleanup() => TearDownContenders();

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.Floor)]
    [Contender(ContenderNames.Raw)]
    public Task<int> Raw_SelectOne() => Raw.SelectOneAsync();
}
