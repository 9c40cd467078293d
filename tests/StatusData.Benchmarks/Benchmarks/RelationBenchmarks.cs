using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Infrastructure;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>Users with all of their status updates (100 each): one user, and 20 users.</summary>
public class RelationBenchmarks : BenchmarkBase
{
    private Guid _one;
    private Guid[] _twenty = [];

    private protected override void SetUp()
    {
        _one = UserIdOf(Seeder.Username(7_500));
        _twenty = [.. Enumerable.Range(0, 20).Select(i => UserIdOf(Seeder.Username(250 + (i * 500))))];
    }

    [Benchmark]
    [BenchmarkCategory(Operations.UserWithUpdates)]
    public Task OneUser() => Contender.GetUserWithUpdatesAsync(_one);

    [Benchmark]
    [BenchmarkCategory(Operations.UsersWithUpdates)]
    public Task TwentyUsers() => Contender.GetUsersWithUpdatesAsync(_twenty);
}
