using BenchmarkDotNet.Attributes;

namespace StatusData.Benchmarks.Benchmarks;

/// <summary>One user by primary key, and creating one user.</summary>
public class UserBenchmarks : BenchmarkBase
{
    private Guid _userId;

    private protected override void SetUp() => _userId = UserIdOf("user05000");

    private protected override void CleanUp() => DeleteCreatedRows();

    [Benchmark]
    [BenchmarkCategory(Operations.GetUser)]
    public Task GetUser() => Contender.GetUserAsync(_userId);

    [Benchmark]
    [BenchmarkCategory(Operations.CreateUser)]
    public Task CreateUser()
    {
        var name = NextName();
        return Contender.CreateUserAsync(name, "Bench User", name + "@bench.example", PasswordHash);
    }
}
