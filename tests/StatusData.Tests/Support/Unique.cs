namespace StatusData.Tests.Support;

/// <summary>Values no other test in the same database uses.</summary>
internal static class Unique
{
    private static int _counter;

    public static string Name(string prefix = "user") => $"{prefix}{Interlocked.Increment(ref _counter)}_{Guid.NewGuid().ToString("N")[..6]}";

    public static string Email(string name) => $"{name}@example.com";
}
