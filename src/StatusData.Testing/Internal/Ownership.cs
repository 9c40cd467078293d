using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace StatusData.Testing.Internal;

/// <summary>
/// Who owns a container or a database: this host and this process, written into container labels and
/// database names, so that a later process on the same host can tell what a killed one left behind.
/// Database names are <c>sdt_&lt;host hash&gt;_&lt;pid&gt;_&lt;server&gt;_&lt;n&gt;</c>, the template
/// <c>sdt_&lt;host hash&gt;_&lt;pid&gt;_&lt;server&gt;_template</c> (server: the how-manieth
/// <see cref="StatusDataTestServer"/> of the process, so two of them on one server never collide).
/// </summary>
internal static class Ownership
{
    private const string DatabasePrefix = "sdt";

    /// <summary>Eight hex digits of the host name's SHA-256: stable across processes, short enough for a 63-byte name.</summary>
    public static string HostHash { get; } = Hash(Environment.MachineName);

    public static string HostName => Environment.MachineName;

    public static int ProcessId => Environment.ProcessId;

    /// <summary>What every database name of this host starts with.</summary>
    public static string HostPrefix => $"{DatabasePrefix}_{HostHash}_";

    public static string DatabaseName(int server, int number) =>
        string.Create(CultureInfo.InvariantCulture, $"{HostPrefix}{ProcessId}_{server}_{number}");

    public static string TemplateName(int server) =>
        string.Create(CultureInfo.InvariantCulture, $"{HostPrefix}{ProcessId}_{server}_template");

    /// <summary>The process that created <paramref name="database"/> on this host, or <see langword="null"/> if it is not one of ours.</summary>
    public static int? OwnerOf(string database)
    {
        var parts = database.Split('_');
        return parts.Length == 5 && parts[0] == DatabasePrefix && parts[1] == HostHash
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid
            : null;
    }

    /// <summary>
    /// Whether <paramref name="processId"/> no longer runs on this host. A pid the system has since reused
    /// for another process counts as alive: its leftovers wait until that process ends too, never the
    /// other way round.
    /// </summary>
    public static bool IsGone(int processId)
    {
        if (processId == ProcessId)
        {
            return false;
        }

        try
        {
            using var process = Process.GetProcessById(processId);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    internal static string Hash(string hostName) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(hostName)))[..8];
}
