using System.Globalization;

namespace StatusData.Migrations.Internal;

/// <summary>A lock wait bound as PostgreSQL's <c>lock_timeout</c> takes it; used by the migrator and by <see cref="ApplicationRole"/>.</summary>
internal static class LockTimeout
{
    /// <summary>lock_timeout is an int of milliseconds.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>Throws unless <paramref name="value"/> is positive and at most <see cref="Max"/>.</summary>
    public static void Validate(TimeSpan value, string paramName)
    {
        if (value <= TimeSpan.Zero || value > Max)
        {
            throw new ArgumentOutOfRangeException(paramName, value, "A lock timeout must be positive and at most 2147483647 ms (about 24.8 days), the most PostgreSQL's lock_timeout accepts.");
        }
    }

    /// <summary>
    /// The setting's text, in whole milliseconds rounded up: a sub-millisecond timeout truncated to 0 would
    /// mean "wait for ever".
    /// </summary>
    public static string Setting(TimeSpan value) =>
        string.Create(CultureInfo.InvariantCulture, $"{(long)Math.Ceiling(value.TotalMilliseconds)}ms");
}
