namespace StatusData.Tests.Packaging;

/// <summary>
/// The public surface is deliberate. Every public member of the packages is pinned in
/// src/*/PublicAPI.Shipped.txt / PublicAPI.Unshipped.txt by Microsoft.CodeAnalysis.PublicApiAnalyzers,
/// which fails the build on any change not written there; this class checks what it does not.
/// </summary>
public sealed class PublicApiTests
{
    [Fact]
    public void EveryNonPublicClassIsSealedOrStatic()
    {
        var open = new[] { typeof(StatusDatabase).Assembly, typeof(StatusData.Testing.StatusDataTestDatabase).Assembly }
            .SelectMany(a => a.GetTypes())
            .Where(t => t is { IsClass: true, IsPublic: false, IsNestedPublic: false, IsSealed: false, IsAbstract: false })
            .Where(t => !t.Name.StartsWith('<')) // compiler-generated
            .Select(t => t.FullName)
            .ToList();

        Assert.Empty(open);
    }
}
