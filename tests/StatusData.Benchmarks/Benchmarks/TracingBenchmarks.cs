using System.Diagnostics;
using BenchmarkDotNet.Attributes;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>
/// What StatusData's spans cost when someone records them: the same get-by-id and post as
/// <see cref="UserBenchmarks"/> and <see cref="PostingBenchmarks"/>, with an <see cref="ActivityListener"/>
/// that records every <c>StatusData</c> span (and nothing of Npgsql's). Without a listener the cost is the
/// main tables' StatusData row next to raw Npgsql's.
/// </summary>
public class TracingBenchmarks : BenchmarkBase, IDisposable
{
    private const string Message = "Shipped the benchmarks today, and the streak goes on";

    private ActivityListener? _listener;
    private Guid _userId;
    private Guid[] _posters = [];
    private int _turn;

    [GlobalSetup]
    public void Setup()
    {
        SetUpContenders();
        _userId = UserIdOf("user05000");
        _posters = CreateUsers("traced", 10_000);
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == StatusDataTelemetry.ActivitySourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Dispose();
        DeleteCreatedRows();
        TearDownContenders();
    }

    /// <summary>Stops the listener (the round-trip pass runs every benchmark class in one process).</summary>
    public void Dispose()
    {
        _listener?.Dispose();
        _listener = null;
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.GetUserTraced)]
    [Contender(ContenderNames.Raw)]
    public Task<User?> Raw_GetUserTraced() => Raw.GetUserByIdAsync(_userId);

    [Benchmark]
    [BenchmarkCategory(Operations.GetUserTraced)]
    [Contender(ContenderNames.StatusDataTraced)]
    public Task<User?> StatusData_GetUserTraced() => StatusData.Users.GetByIdAsync(_userId);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.PostTraced)]
    [Contender(ContenderNames.Raw)]
    public Task<StatusUpdateWithAuthor> Raw_PostTraced() => Raw.PostAsync(NextPoster(), Message, "work", 10);

    [Benchmark]
    [BenchmarkCategory(Operations.PostTraced)]
    [Contender(ContenderNames.StatusDataTraced)]
    public Task<StatusUpdateWithAuthor> StatusData_PostTraced() => StatusData.StatusUpdates.PostAsync(NextPoster(), Message, "work", 10);

    private Guid NextPoster() => _posters[_turn++ % _posters.Length];
}
