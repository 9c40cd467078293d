using System.Globalization;
using System.Security.Cryptography;

namespace StatusData.Demo;

/// <summary>
/// What an app stores in password_hash: PBKDF2-HMAC-SHA256 with 600,000 iterations (OWASP's
/// recommendation when Argon2id is not available), a random salt, in one self-describing string.
/// This file is the example of docs/reliability.md; Security/SecurityTests compiles it and checks it.
/// </summary>
internal static class PasswordHashing
{
    private const int Iterations = 600_000;

    // "pbkdf2-sha256$600000$<salt>$<hash>": 90 characters, fits password_hash varchar(255).
    public static string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, Iterations, HashAlgorithmName.SHA256, 32);
        return $"pbkdf2-sha256${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public static bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts is not ["pbkdf2-sha256", var iterations, var salt, var hash])
        {
            return false;
        }

        var expected = Convert.FromBase64String(hash);
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, Convert.FromBase64String(salt), int.Parse(iterations, CultureInfo.InvariantCulture), HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
