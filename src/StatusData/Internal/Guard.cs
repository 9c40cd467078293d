namespace StatusData.Internal;

/// <summary>
/// Rejects bad input before the database sees it, naming the parameter. Lengths are counted as
/// PostgreSQL counts them, in Unicode code points: 50 emoji fit a varchar(50), though .NET's
/// <see cref="string.Length"/> says 100.
/// </summary>
internal static class Guard
{
    public const int MaxPageSize = 1000;

    /// <summary>A required text value: not null, not empty or whitespace, valid UTF-16 without NUL, at most <paramref name="maxLength"/> code points.</summary>
    public static void Text(string? value, int maxLength, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException($"{paramName} must not be empty or whitespace only.", paramName);
        }

        var length = CodePoints(value, paramName);
        if (length > maxLength)
        {
            throw new ArgumentException($"{paramName} is {length} characters long; at most {maxLength} are allowed.", paramName);
        }
    }

    /// <summary>An optional text value: <see langword="null"/>, or a valid required one.</summary>
    public static void OptionalText(string? value, int maxLength, string paramName)
    {
        if (value is not null)
        {
            Text(value, maxLength, paramName);
        }
    }

    /// <summary>A value to look up: not null, and something PostgreSQL can receive (no NUL, no unpaired surrogate).</summary>
    public static void Lookup(string? value, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        CodePoints(value, paramName);
    }

    public static void PageSize(int limit, string paramName)
    {
        if (limit is < 1 or > MaxPageSize)
        {
            throw new ArgumentOutOfRangeException(paramName, limit, $"{paramName} must be between 1 and {MaxPageSize}.");
        }
    }

    /// <summary>
    /// Whether <see cref="Text"/> would accept <paramref name="value"/>, without allocating: for loops over
    /// many rows, which build a parameter name (and call <see cref="Text"/> for the precise error) only
    /// when a row is invalid.
    /// </summary>
    public static bool IsValidText(string? value, int maxLength) =>
        value is not null && !string.IsNullOrWhiteSpace(value) && CountCodePoints(value, out _) is var count && count >= 0 && count <= maxLength;

    /// <summary>Counts code points, rejecting NUL (PostgreSQL cannot store it) and unpaired surrogates (not encodable as UTF-8).</summary>
    private static int CodePoints(string value, string paramName)
    {
        var count = CountCodePoints(value, out var bad);
        if (count >= 0)
        {
            return count;
        }

        var c = value[bad];
        throw c == '\0'
            ? new ArgumentException($"{paramName} contains a NUL character (U+0000) at index {bad}; PostgreSQL text cannot hold it.", paramName)
            : new ArgumentException($"{paramName} contains an unpaired UTF-16 surrogate (U+{(int)c:X4}) at index {bad}; it is not valid text.", paramName);
    }

    /// <summary>The number of code points, or -1 with <paramref name="bad"/> at the first NUL or unpaired surrogate.</summary>
    private static int CountCodePoints(string value, out int bad)
    {
        var count = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                bad = i;
                return -1;
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                bad = i;
                return -1;
            }

            count++;
        }

        bad = -1;
        return count;
    }
}
