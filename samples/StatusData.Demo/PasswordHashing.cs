using System.Security.Cryptography;

namespace StatusData.Demo;

/// <summary>
/// What an app stores in password_hash: PBKDF2-HMAC-SHA256 with 600,000 iterations (OWASP's
/// recommendation when Argon2id is not available), a random salt, in one self-describing string.
/// </summary>
internal static class PasswordHashing
{
    private const int Iterations = 600_000;

    public static string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, Iterations, HashAlgorithmName.SHA256, 32);
        return $"pbkdf2-sha256${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }
}
