using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Benchmarks;
using StatusData.Benchmarks.Contenders;

namespace StatusData.Benchmarks.Infrastructure;

/// <summary>What the round-trip pass found for one benchmark method.</summary>
/// <param name="RoundTrips">Network round trips per call, in the steady state.</param>
/// <param name="Fingerprint">What the call returned, reduced to ids, to check that contenders agree.</param>
internal sealed record RoundTripResult(double RoundTrips, string Fingerprint);

/// <summary>
/// Runs every benchmark outside BenchmarkDotNet, untimed, through a <see cref="RoundTripProxy"/>: for each
/// contender of each benchmark class a fresh instance whose contender connects through the proxy (a fresh
/// data source and pool), its global setup, then for each method warm-up calls (they open the physical
/// connection and prepare statements), then measured calls, counting round trips in between. Setup and
/// clean-up SQL go straight to the server and are not counted. Then checks that every contender of a
/// read operation returned the same rows.
/// </summary>
internal static class RoundTripPass
{
    private const int Warmups = 2;
    private const int Measured = 3;

    public static async Task<Dictionary<string, RoundTripResult>> RunAsync(IEnumerable<Type> benchmarkTypes, string databaseConnectionString, TextWriter log)
    {
        var results = new Dictionary<string, RoundTripResult>();
        await using var proxy = new RoundTripProxy(databaseConnectionString);
        foreach (var instance in benchmarkTypes.SelectMany(Instances))
        {
            var type = instance.GetType();
            instance.ConnectionString = proxy.ConnectionString;
            var iterationSetup = MethodWith<IterationSetupAttribute>(type);
            var iterationCleanup = MethodWith<IterationCleanupAttribute>(type);

            // Iteration setup/clean-up means a heavy benchmark (the import): one warm-up and one measured call.
            var (warmups, measured) = iterationSetup is null ? (Warmups, Measured) : (1, 1);
            instance.GlobalSetup();
            try
            {
                foreach (var method in BenchmarkMethods(type))
                {
                    for (var i = 0; i < warmups; i++)
                    {
                        iterationSetup?.Invoke(instance, null);
                        await InvokeAsync(instance, method);
                        iterationCleanup?.Invoke(instance, null);
                    }

                    long roundTrips = 0;
                    object? last = null;
                    for (var i = 0; i < measured; i++)
                    {
                        iterationSetup?.Invoke(instance, null);
                        proxy.Reset();
                        last = await InvokeAsync(instance, method);
                        roundTrips += proxy.RoundTrips;
                        iterationCleanup?.Invoke(instance, null);
                    }

                    var key = Key(method, instance.ContenderName);
                    results[key] = new RoundTripResult((double)roundTrips / measured, Fingerprint(last));
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round trips: {key,-70} {results[key].RoundTrips,8:0.##}"));
                }
            }
            finally
            {
                instance.GlobalCleanup();
            }
        }

        Verify(benchmarkTypes, results);
        return results;
    }

    /// <summary>How --filter names a benchmark method: Type.Method.</summary>
    public static string Name(MethodInfo method) => $"{method.DeclaringType!.Name}.{method.Name}";

    /// <summary>How the report and the passes name a benchmark method run by one contender.</summary>
    public static string Key(MethodInfo method, string contender) => $"{Name(method)} [{contender}]";

    public static IEnumerable<MethodInfo> BenchmarkMethods(Type type) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Instance).Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null);

    /// <summary>A benchmark class as BenchmarkDotNet runs it: one instance for each of its contenders, not set up.</summary>
    public static IEnumerable<BenchmarkBase> Instances(Type type)
    {
        foreach (var contender in ((BenchmarkBase)Activator.CreateInstance(type)!).Contenders)
        {
            var instance = (BenchmarkBase)Activator.CreateInstance(type)!;
            instance.ContenderName = contender;
            yield return instance;
        }
    }

    /// <summary>Every benchmark method of a class with every contender, in the report's order.</summary>
    public static IEnumerable<(MethodInfo Method, string Contender)> Cases(Type type) =>
        from instance in Instances(type)
        from method in BenchmarkMethods(type)
        select (method, instance.ContenderName);

    public static string CategoryOf(MethodInfo method) => method.GetCustomAttribute<BenchmarkCategoryAttribute>()!.Categories.Single();

    /// <summary>Every contender of a read operation must return the same rows in the same order (sets of users in any order).</summary>
    private static void Verify(IEnumerable<Type> benchmarkTypes, Dictionary<string, RoundTripResult> results)
    {
        var problems = new List<string>();
        foreach (var group in benchmarkTypes.SelectMany(Cases)
                     .Where(c => Operations.Verified.Contains(CategoryOf(c.Method)))
                     .GroupBy(c => CategoryOf(c.Method)))
        {
            var fingerprints = group.Where(c => c.Contender != ContenderNames.Floor)
                .Select(c => Key(c.Method, c.Contender))
                .Select(key => (Method: key, results[key].Fingerprint))
                .ToList();
            var expected = fingerprints[0].Fingerprint;
            if (expected.Length == 0 || expected == "null")
            {
                problems.Add($"{group.Key}: {fingerprints[0].Method} returned nothing");
            }

            problems.AddRange(fingerprints.Where(f => f.Fingerprint != expected)
                .Select(f => $"{group.Key}: {f.Method} returned [{Shorten(f.Fingerprint)}], {fingerprints[0].Method} returned [{Shorten(expected)}]"));
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("The contenders do not return the same data, so their timings would not compare the same work:\n" + string.Join('\n', problems));
        }
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "…";

    internal static async Task<object?> InvokeAsync(object instance, MethodInfo method)
    {
        var task = (Task)method.Invoke(instance, null)!;
        await task;
        return task.GetType().GetProperty(nameof(Task<int>.Result))?.GetValue(task);
    }

    internal static MethodInfo? MethodWith<T>(Type type)
        where T : Attribute =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Instance).SingleOrDefault(m => m.GetCustomAttribute<T>() is not null);

    /// <summary>Ids of what a call returned; users with their update count and first and last update.</summary>
    private static string Fingerprint(object? value) => value switch
    {
        null => "null",
        User u => OfUser(u.Id, []),
        UserRow u => OfUser(u.Id, [.. u.StatusUpdates.Select(s => s.Id)]),
        UserWithStatusUpdates u => OfUser(u.User.Id, [.. u.StatusUpdates.Select(s => s.Id)]),
        StatusUpdateWithAuthor s => $"{s.StatusUpdate.Id}/{s.Author.Id}",
        StatusUpdateRow s => $"{s.Id}/{s.Author?.Id}",
        Page<StatusUpdateWithAuthor> page => Fingerprint(page.Items),
        string text => text,
        System.Collections.IEnumerable items => Sequence(items.Cast<object?>().ToList()),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
    };

    /// <summary>Sets of users are compared in id order (contenders order them differently); feeds keep their order.</summary>
    private static string Sequence(List<object?> items)
    {
        var parts = items.Select(Fingerprint);
        if (items.Count > 0 && items[0] is User or UserRow or UserWithStatusUpdates)
        {
            parts = parts.Order(StringComparer.Ordinal);
        }

        return string.Join(' ', parts);
    }

    private static string OfUser(Guid id, Guid[] updates) =>
        updates.Length == 0 ? $"U:{id}" : $"U:{id}:{updates.Length}:{updates[0]}:{updates[^1]}";
}
