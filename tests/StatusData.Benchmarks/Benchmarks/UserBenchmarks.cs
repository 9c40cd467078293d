using BenchmarkDotNet.Attributes;
using StatusData.Benchmarks.Contenders;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>One user by primary key, and creating one user.</summary>
public class UserBenchmarks : BenchmarkBase
{
    private Guid _userId;

    [GlobalSetup]
    public void Setup()
    {
        SetUpContenders();
        _userId = UserIdOf("user05000");
    }

    /// <summary>Deletes the users the create benchmarks made, so later benchmarks see the seeded data.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        DeleteCreatedRows();
        TearDownContenders();
    }

    [Benchmark]
    [BenchmarkCategory(Operations.GetUser)]
    [Contender(ContenderNames.Floor)]
    public Task<int> Floor_GetUser() => Raw.SelectOneAsync();

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.GetUser)]
    [Contender(ContenderNames.Raw)]
    public Task<User?> Raw_GetUser() => Raw.GetUserByIdAsync(_userId);

    [Benchmark]
    [BenchmarkCategory(Operations.GetUser)]
    [Contender(ContenderNames.StatusData)]
    public Task<User?> StatusData_GetUser() => StatusData.Users.GetByIdAsync(_userId);

    [Benchmark]
    [BenchmarkCategory(Operations.GetUser)]
    [Contender(ContenderNames.EfCore)]
    public Task<UserEntity?> EfCore_GetUser() => Ef.GetUserByIdAsync(_userId);

    [Benchmark]
    [BenchmarkCategory(Operations.GetUser)]
    [Contender(ContenderNames.Naive)]
    public Task<UserRow?> Naive_GetUser() => Naive.GetUserByIdAsync(_userId);

    [Benchmark]
    [BenchmarkCategory(Operations.CreateUser)]
    [Contender(ContenderNames.Floor)]
    public Task<int> Floor_CreateUser() => Raw.SelectOneAsync();

    [Benchmark(Baseline = true)]
    [BenchmarkCategory(Operations.CreateUser)]
    [Contender(ContenderNames.Raw)]
    public Task<User> Raw_CreateUser()
    {
        var name = NextName();
        return Raw.CreateUserAsync(name, "Bench User", name + "@bench.example", PasswordHash);
    }

    [Benchmark]
    [BenchmarkCategory(Operations.CreateUser)]
    [Contender(ContenderNames.StatusData)]
    public Task<User> StatusData_CreateUser()
    {
        var name = NextName();
        return StatusData.Users.CreateAsync(name, "Bench User", name + "@bench.example", PasswordHash);
    }

    [Benchmark]
    [BenchmarkCategory(Operations.CreateUser)]
    [Contender(ContenderNames.EfCore)]
    public Task<UserEntity> EfCore_CreateUser()
    {
        var name = NextName();
        return Ef.CreateUserAsync(name, "Bench User", name + "@bench.example", PasswordHash);
    }

    [Benchmark]
    [BenchmarkCategory(Operations.CreateUser)]
    [Contender(ContenderNames.Naive)]
    public Task<UserRow> Naive_CreateUser()
    {
        var name = NextName();
        return Naive.CreateUserAsync(name, "Bench User", name + "@bench.example", PasswordHash);
    }
}
