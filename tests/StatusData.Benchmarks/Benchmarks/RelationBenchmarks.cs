using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Contenders;
using StatusData.Benchmarks.Infrastructure;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>Users with all of their status updates (100 each): one user, and 20 users.</summary>
public class RelationBenchmarks : BenchmarkBase
{
    private Guid _one;
    private Guid[] _twenty = [];

    [GlobalSetup]
    public void Setup()
    {
        SetUpContenders();
        _one = UserIdOf(Seeder.Username(7_500));
        _twenty = [.. Enumerable.Range(0, 20).Select(i => UserIdOf(Seeder.Username(250 + (i * 500))))];
    }

    [GlobalCleanup]
    public void Cleanup() => TearDownContenders();

    [Benchmark]
    [BenchmarkCategory(Operations.UserWithUpdates)]
    [Contender(ContenderNames.Floor)]
    public Task<int> Floor_OneUser() => Raw.SelectOneAsync();

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.UserWithUpdates)]
    [Contender(ContenderNames.Raw)]
    public Task<List<UserWithStatusUpdates>> Raw_OneUser() => Raw.GetUsersWithStatusUpdatesAsync([_one]);

    [Benchmark]
    [BenchmarkCategory(Operations.UserWithUpdates)]
    [Contender(ContenderNames.StatusData)]
    public Task<UserWithStatusUpdates?> StatusData_OneUser() => StatusData.Users.GetWithStatusUpdatesAsync(_one);

    [Benchmark]
    [BenchmarkCategory(Operations.UserWithUpdates)]
    [Contender(ContenderNames.EfCore)]
    public Task<UserEntity?> EfCore_OneUser() => Ef.GetUserWithUpdatesAsync(_one);

    [Benchmark]
    [BenchmarkCategory(Operations.UserWithUpdates)]
    [Contender(ContenderNames.Naive)]
    public Task<UserRow?> Naive_OneUser() => Naive.GetUserWithUpdatesAsync(_one);

    [Benchmark]
    [BenchmarkCategory(Operations.UsersWithUpdates)]
    [Contender(ContenderNames.Floor)]
    public Task<int> Floor_TwentyUsers() => Raw.SelectOneAsync();

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.UsersWithUpdates)]
    [Contender(ContenderNames.Raw)]
    public Task<List<UserWithStatusUpdates>> Raw_TwentyUsers() => Raw.GetUsersWithStatusUpdatesAsync(_twenty);

    [Benchmark]
    [BenchmarkCategory(Operations.UsersWithUpdates)]
    [Contender(ContenderNames.StatusData)]
    public Task<IReadOnlyList<UserWithStatusUpdates>> StatusData_TwentyUsers() => StatusData.Users.GetManyWithStatusUpdatesAsync(_twenty);

    [Benchmark]
    [BenchmarkCategory(Operations.UsersWithUpdates)]
    [Contender(ContenderNames.EfCore)]
    public Task<List<UserEntity>> EfCore_TwentyUsers() => Ef.GetUsersWithUpdatesAsync(_twenty);

    [Benchmark]
    [BenchmarkCategory(Operations.UsersWithUpdates)]
    [Contender(ContenderNames.Naive)]
    public Task<List<UserRow>> Naive_TwentyUsers() => Naive.GetUsersWithUpdatesAsync(_twenty);
}
