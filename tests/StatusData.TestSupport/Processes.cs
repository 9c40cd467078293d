using System.Diagnostics;

namespace StatusData.TestSupport;

/// <summary>Process checks that hold in containers too.</summary>
public static class Processes
{
    /// <summary>
    /// Whether a process exists and has not exited. A zombie counts as exited: in a container whose
    /// PID 1 does not reap orphans, a stopped postmaster stays a zombie for ever.
    /// </summary>
    /// <param name="pid">The process id.</param>
    /// <returns><see langword="true"/> if the process is running.</returns>
    public static bool IsRunning(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (File.Exists(stat))
        {
            try
            {
                var text = File.ReadAllText(stat);
                var state = text[(text.LastIndexOf(')') + 2)..].FirstOrDefault();
                return state is not ('Z' or 'X');
            }
            catch (IOException)
            {
                return false;
            }
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
