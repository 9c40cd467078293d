namespace StatusData.Demo;

/// <summary>The demo's clock: set by the scenario, so days pass instantly.</summary>
internal sealed class SimulatedClock(DateTimeOffset start) : TimeProvider
{
    private int _ticks;

    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    /// <summary>A growing number of minutes, so posts on one day get distinct times.</summary>
    public int Tick() => ++_ticks;
}
