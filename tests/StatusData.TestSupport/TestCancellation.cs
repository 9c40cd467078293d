namespace StatusData.TestSupport;

/// <summary>
/// The running test's cancellation token, which every test file sees as <c>Ct</c> (a static using in both
/// test projects): xunit cancels it when the run is aborted or the test exceeds its timeout.
/// </summary>
public static class TestCancellation
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;
}
