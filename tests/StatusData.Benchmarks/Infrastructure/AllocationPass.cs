using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;

namespace StatusData.Benchmarks.Infrastructure;

/// <summary>
/// Bytes allocated per call in the steady state, the report's "Allocated" column. BenchmarkDotNet's own
/// figure (in BenchmarkDotNet.Artifacts) comes from the process-wide allocation counter over one short
/// iteration, which here also catches the runtime's background work (tiered JIT, timers): the same raw
/// Npgsql call measured 1.7 KB in one benchmark process and 2.1 KB in another. This pass runs each
/// benchmark method in this process, directly against the database, warms it up for a second, then takes
/// the lowest of three rounds of at least half a second each of
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/> over the calls. The import (one call per iteration, with
/// per-iteration setup) keeps BenchmarkDotNet's figure.
/// </summary>
internal static class AllocationPass
{
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Round = TimeSpan.FromSeconds(0.5);

    public static async Task<Dictionary<string, long>> RunAsync(IEnumerable<Type> benchmarkTypes, TextWriter log)
    {
        var results = new Dictionary<string, long>();
        foreach (var instance in benchmarkTypes.Where(t => RoundTripPass.MethodWith<IterationSetupAttribute>(t) is null).SelectMany(RoundTripPass.Instances))
        {
            instance.GlobalSetup();
            try
            {
                foreach (var method in RoundTripPass.BenchmarkMethods(instance.GetType()))
                {
                    await CallsAsync(instance, method, Warmup);
                    var best = long.MaxValue;
                    for (var round = 0; round < 3; round++)
                    {
                        var before = GC.GetTotalAllocatedBytes(precise: true);
                        var calls = await CallsAsync(instance, method, Round);
                        best = Math.Min(best, (GC.GetTotalAllocatedBytes(precise: true) - before) / calls);
                    }

                    var key = RoundTripPass.Key(method, instance.ContenderName);
                    results[key] = best;
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocated: {key,-70} {best,10:N0} B"));
                }
            }
            finally
            {
                instance.GlobalCleanup();
            }
        }

        return results;
    }

    /// <summary>Calls the method back to back for at least <paramref name="duration"/> and at least twice; returns how often.</summary>
    private static async Task<long> CallsAsync(object instance, System.Reflection.MethodInfo method, TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        long calls = 0;
        while (clock.Elapsed < duration || calls < 2)
        {
            await (Task)method.Invoke(instance, null)!;
            calls++;
        }

        return calls;
    }
}
