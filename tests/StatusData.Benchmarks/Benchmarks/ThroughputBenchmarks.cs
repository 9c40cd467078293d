using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Infrastructure;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>
/// Throughput under concurrency: <see cref="Callers"/> callers at once, each running its share of
/// <see cref="OperationsPerInvoke"/> posts (each as one of 10,000 users of this process's own, in turn) or
/// feed reads (page 1) back to back. BenchmarkDotNet's time per operation is the invocation's time over
/// all of them, so operations per second = 1 s / that time. Not part of the round-trip pass: its
/// operations are the single-caller benchmarks'.
/// </summary>
public class ThroughputBenchmarks : BenchmarkBase
{
    /// <summary>Divisible by every <see cref="Callers"/> value.</summary>
    public const int OperationsPerInvoke = 256;

    [Params(1, 8, 32)]
    public int Callers { get; set; } = 1;

    public override IEnumerable<string> Contenders => [ContenderNames.Raw, ContenderNames.StatusData, ContenderNames.EfCore];

    private protected override void SetUp() => CreatePosters("throughput");

    private protected override void CleanUp() => DeleteCreatedRows();

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    [BenchmarkCategory(Operations.PostsPerSecond)]
    public Task Posts() => Concurrently(() => Contender.PostAsync(NextPoster(), Message, "work", 10));

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    [BenchmarkCategory(Operations.FeedReadsPerSecond)]
    public Task FeedReads() => Concurrently(() => Contender.GetFeedAsync(Seeder.PageSize, 0, null));

    private Task Concurrently(Func<Task> operation)
    {
        var each = OperationsPerInvoke / Callers;
        var callers = new Task[Callers];
        for (var i = 0; i < callers.Length; i++)
        {
            callers[i] = Task.Run(async () =>
            {
                for (var n = 0; n < each; n++)
                {
                    await operation();
                }
            });
        }

        return Task.WhenAll(callers);
    }
}
