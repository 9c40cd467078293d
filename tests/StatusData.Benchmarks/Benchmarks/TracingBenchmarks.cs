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
    private ActivityListener? _listener;
    private Guid _userId;

    public override IEnumerable<string> Contenders => [ContenderNames.Raw, ContenderNames.StatusDataTraced];

    private protected override void SetUp()
    {
        _userId = UserIdOf("user05000");
        CreatePosters("traced");
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == StatusDataTelemetry.ActivitySourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    private protected override void CleanUp()
    {
        Dispose();
        DeleteCreatedRows();
    }

    /// <summary>Stops the listener (the round-trip pass runs every benchmark class in one process).</summary>
    public void Dispose()
    {
        _listener?.Dispose();
        _listener = null;
        GC.SuppressFinalize(this);
    }

    [Benchmark]
    [BenchmarkCategory(Operations.GetUserTraced)]
    public Task GetUserTraced() => Contender.GetUserAsync(_userId);

    [Benchmark]
    [BenchmarkCategory(Operations.PostTraced)]
    public Task PostTraced() => Contender.PostAsync(NextPoster(), Message, "work", 10);
}
