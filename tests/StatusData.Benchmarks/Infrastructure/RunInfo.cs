using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace StatusData.Benchmarks.Infrastructure;

/// <summary>Where and how the benchmarks ran: the header of docs/benchmarks.md.</summary>
internal sealed record RunInfo
{
    public required bool Quick { get; init; }

    public required int ImportRows { get; init; }

    public required string Server { get; init; }

    public required string PostgresVersion { get; init; }

    public required string PostgresSettings { get; init; }

    public required string LoadBefore { get; init; }

    public string LoadAfter { get; set; } = string.Empty;

    public required DateTime StartedUtc { get; init; }

    public TimeSpan Duration { get; set; }

    public required TimeSpan SeedDuration { get; init; }

    /// <summary>The server's own import rate for the same rows, or <see langword="null"/> when the import did not run.</summary>
    public ServerImportProbe? ImportProbe { get; init; }

    public static string Cpu() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : RuntimeInformation.ProcessArchitecture.ToString();

    public static string Memory()
    {
        var line = File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) : null;
        return line is not null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture, out var kb)
            ? string.Create(CultureInfo.InvariantCulture, $"{kb / 1024.0 / 1024.0:0.#} GiB")
            : "unknown";
    }

    public static string OperatingSystem()
    {
        var pretty = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1].Trim('"')
            : null;
        var kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : null;
        return (pretty ?? RuntimeInformation.OSDescription) + (kernel is null ? string.Empty : $", Linux kernel {kernel}");
    }

    /// <summary>The 1, 5 and 15 minute load averages: how busy the (shared) machine was.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    public static string VersionOf(Type type)
    {
        var version = type.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? type.Assembly.GetName().Version?.ToString()
            ?? "unknown";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}
