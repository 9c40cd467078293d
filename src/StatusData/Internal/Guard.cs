namespace StatusData.Internal;

/// <summary>
/// Checks input before the database sees it: each check returns the error naming the parameter, or
/// <see langword="null"/>, so a repository method hands its refusal to <see cref="Session.RunAsync"/>, which
/// throws it inside the call's span. Lengths are counted as
/// PostgreSQL counts them, in Unicode code points: 50 emoji fit a varchar(50), though .NET's
/// <see cref="string.Length"/> says 100.
/// </summary>
internal static class Guard
{
    public const int MaxPageSize = 1000;

    /// <summary>A required text value: not null, not empty or whitespace, valid UTF-16 without NUL, at most <paramref name="maxLength"/> code points.</summary>
    /// <returns>The error naming <paramref name="paramName"/>, or <see langword="null"/> when the value is valid.</returns>
    public static ArgumentException? Text(string? value, int maxLength, string paramName)
    {
        if (value is null)
        {
            return new ArgumentNullException(paramName);
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            return new ArgumentException($"{paramName} must not be empty or whitespace only.", paramName);
        }

        var length = CountCodePoints(value, out var bad);
        return length < 0 ? BadCharacter(value, bad, paramName)
            : length > maxLength ? new ArgumentException($"{paramName} is {length} characters long; at most {maxLength} are allowed.", paramName)
            : null;
    }

    /// <summary>An optional text value: <see langword="null"/>, or a valid required one.</summary>
    public static ArgumentException? OptionalText(string? value, int maxLength, string paramName) =>
        value is null ? null : Text(value, maxLength, paramName);

    /// <summary>A value to look up: not null, and something PostgreSQL can receive (no NUL, no unpaired surrogate).</summary>
    public static ArgumentException? Lookup(string? value, string paramName) =>
        value is null ? new ArgumentNullException(paramName)
        : CountCodePoints(value, out var bad) < 0 ? BadCharacter(value, bad, paramName)
        : null;

    public static ArgumentException? PageSize(int limit, string paramName) =>
        limit is < 1 or > MaxPageSize ? new ArgumentOutOfRangeException(paramName, limit, $"{paramName} must be between 1 and {MaxPageSize}.") : null;

    public static ArgumentException? NotNegative(int value, string paramName) =>
        value < 0 ? new ArgumentOutOfRangeException(paramName, value, $"{paramName} must not be negative.") : null;

    public static ArgumentException? NotNull(object? value, string paramName) =>
        value is null ? new ArgumentNullException(paramName) : null;

    /// <summary>
    /// Whether <see cref="Text"/> would accept <paramref name="value"/>, without allocating: for loops over
    /// many rows, which build a parameter name (and call <see cref="Text"/> for the precise error) only
    /// when a row is invalid.
    /// </summary>
    public static bool IsValidText(string? value, int maxLength) =>
        value is not null && !string.IsNullOrWhiteSpace(value) && CountCodePoints(value, out _) is var count && count >= 0 && count <= maxLength;

    /// <summary>The error for the NUL (PostgreSQL cannot store it) or unpaired surrogate (not encodable as UTF-8) at <paramref name="bad"/>.</summary>
    private static ArgumentException BadCharacter(string value, int bad, string paramName)
    {
        var c = value[bad];
        return c == '\0'
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
