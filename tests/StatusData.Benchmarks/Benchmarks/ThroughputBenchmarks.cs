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

    private const string Message = "Shipped the benchmarks today, and the streak goes on";

    private Guid[] _posters = [];
    private int _turn;

    [Params(1, 8, 32)]
    public int Callers { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        SetUpContenders();
        _posters = CreateUsers("throughput", 10_000);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        DeleteCreatedRows();
        TearDownContenders();
    }

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    [BenchmarkCategory(Operations.PostsPerSecond)]
    [Contender(ContenderNames.Raw)]
    public Task Raw_Posts() => Concurrently(() => Raw.PostAsync(NextPoster(), Message, "work", 10));

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    [BenchmarkCategory(Operations.PostsPerSecond)]
    [Contender(ContenderNames.StatusData)]
    public Task StatusData_Posts() => Concurrently(() => StatusData.StatusUpdates.PostAsync(NextPoster(), Message, "work", 10));

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    [BenchmarkCategory(Operations.PostsPerSecond)]
    [Contender(ContenderNames.EfCore)]
    public Task EfCore_Posts() => Concurrently(() => Ef.PostAsync(NextPoster(), Message, "work", 10));

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    [BenchmarkCategory(Operations.FeedReadsPerSecond)]
    [Contender(ContenderNames.Raw)]
    public Task Raw_FeedReads() => Concurrently(() => Raw.GetFeedAsync(Seeder.PageSize, null));

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    [BenchmarkCategory(Operations.FeedReadsPerSecond)]
    [Contender(ContenderNames.StatusData)]
    public Task StatusData_FeedReads() => Concurrently(() => StatusData.StatusUpdates.GetFeedAsync(Seeder.PageSize));

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    [BenchmarkCategory(Operations.FeedReadsPerSecond)]
    [Contender(ContenderNames.EfCore)]
    public Task EfCore_FeedReads() => Concurrently(() => Ef.GetFeedFirstPageAsync(Seeder.PageSize));

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

    private Guid NextPoster() => _posters[(int)((uint)Interlocked.Increment(ref _turn) % (uint)_posters.Length)];
}
