namespace StatusData.Tests.Packaging;

/// <summary>The public surface is deliberate: a new public type must be added here on purpose.</summary>
public sealed class PublicApiTests
{
    [Fact]
    public void OnlyRecordsRepositoriesOptionsExceptionsAndDiArePublic()
    {
        var exported = typeof(StatusDatabase).Assembly.GetExportedTypes().Select(t => t.FullName).Order(StringComparer.Ordinal);

        Assert.Equal(
            [
                "StatusData.DuplicateValueException",
                "StatusData.IStatusDataTransaction",
                "StatusData.IStatusDatabase",
                "StatusData.IStatusUpdateRepository",
                "StatusData.IUserRepository",
                "StatusData.PageCursor",
                "StatusData.Page`1",
                "StatusData.StatusDataException",
                "StatusData.StatusDataOptions",
                "StatusData.StatusDataServiceCollectionExtensions",
                "StatusData.StatusDatabase",
                "StatusData.StatusUpdate",
                "StatusData.StatusUpdateWithAuthor",
                "StatusData.TransientDatabaseException",
                "StatusData.User",
                "StatusData.UserNotFoundException",
                "StatusData.UserWithStatusUpdates",
            ],
            exported);
    }

    [Fact]
    public void EveryNonPublicClassIsSealedOrStatic()
    {
        var open = typeof(StatusDatabase).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsPublic: false, IsNestedPublic: false, IsSealed: false, IsAbstract: false })
            .Where(t => !t.Name.StartsWith('<')) // compiler-generated
            .Select(t => t.FullName)
            .ToList();

        Assert.Empty(open);
    }
}
