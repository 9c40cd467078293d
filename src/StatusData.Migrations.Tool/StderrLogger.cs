using Microsoft.Extensions.Logging;

namespace StatusData.Migrations.Cli;

/// <summary>Writes the runner's log lines to stderr, so stdout stays clean for status output and scripts.</summary>
internal sealed class StderrLogger(Target target) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        var level = logLevel switch
        {
            LogLevel.Warning => "warn",
            LogLevel.Error or LogLevel.Critical => "fail",
            _ => "info",
        };
        Console.Error.WriteLine($"{level}: {target.Redact(formatter(state, exception))}");
    }
}
