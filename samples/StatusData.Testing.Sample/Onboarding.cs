using StatusData;

namespace Sample;

/// <summary>The app's own code under test: a new user is welcomed with a first status update worth 10 XP.</summary>
public sealed class Onboarding(IStatusDatabase database)
{
    public async Task<User> WelcomeAsync(string username, string displayName, string email, CancellationToken cancellationToken = default)
    {
        await using var transaction = await database.BeginTransactionAsync(cancellationToken);
        var user = await transaction.Users.CreateAsync(username, displayName, email, passwordHash: "not-a-real-hash", cancellationToken: cancellationToken);
        var posted = await transaction.StatusUpdates.PostAsync(user.Id, $"Hello, I'm {displayName}!", "welcome", xpAward: 10, cancellationToken: cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return posted.Author;
    }
}
