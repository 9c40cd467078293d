using System.Diagnostics;

namespace StatusData.TestSupport;

/// <summary>What a finished process did.</summary>
/// <param name="ExitCode">Its exit code.</param>
/// <param name="Stdout">Everything it wrote to stdout.</param>
/// <param name="Stderr">Everything it wrote to stderr.</param>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    /// <inheritdoc />
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// The one way tests run a program: stdin closed, stdout and stderr captured whole, a deadline after
/// which the process (and its children) is killed, and a kill on dispose if it is still running.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;

    private ChildProcess(Process process)
    {
        _process = process;
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Starts <paramref name="fileName"/> without a shell.</summary>
    /// <param name="fileName">The program.</param>
    /// <param name="arguments">Its arguments, each passed as is.</param>
    /// <param name="environment">Variables to set on top of this process's environment; a <see langword="null"/> value removes the variable.</param>
    /// <param name="workingDirectory">Its working directory; default: this process's.</param>
    /// <returns>The running process.</returns>
    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, IEnumerable<KeyValuePair<string, string?>>? environment = null, string? workingDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? [])
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        process.StandardInput.Close();
        return new ChildProcess(process);
    }

    /// <summary>Starts a program and waits for it (see <see cref="Start"/> and <see cref="WaitAsync"/>).</summary>
    /// <param name="fileName">The program.</param>
    /// <param name="arguments">Its arguments, each passed as is.</param>
    /// <param name="timeout">How long it may run; <see langword="null"/>: until <paramref name="cancellationToken"/> says otherwise.</param>
    /// <param name="environment">Variables to set; a <see langword="null"/> value removes the variable.</param>
    /// <param name="workingDirectory">Its working directory; default: this process's.</param>
    /// <param name="cancellationToken">Kills the process and throws <see cref="OperationCanceledException"/>.</param>
    /// <returns>What it did.</returns>
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan? timeout = null,
        IEnumerable<KeyValuePair<string, string?>>? environment = null,
        string? workingDirectory = null,
        CancellationToken cancellationToken = default)
    {
        using var process = Start(fileName, arguments, environment, workingDirectory);
        return await process.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits for the process to exit; after <paramref name="timeout"/> kills it with its children and throws <see cref="TimeoutException"/>.</summary>
    /// <param name="timeout">How long to wait; <see langword="null"/>: until <paramref name="cancellationToken"/> says otherwise.</param>
    /// <param name="cancellationToken">Kills the process and throws <see cref="OperationCanceledException"/>.</param>
    /// <returns>What it did.</returns>
    public async Task<ProcessResult> WaitAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } limit)
        {
            deadline.CancelAfter(limit);
        }

        try
        {
            await _process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{Describe()} did not exit within {timeout} and was killed.");
        }

        return new ProcessResult(_process.ExitCode, await _stdout.ConfigureAwait(false), await _stderr.ConfigureAwait(false));
    }

    /// <summary>SIGKILL of the process alone: it gets no chance to roll back, close its connections or print anything.</summary>
    /// <param name="cancellationToken">Stops waiting for the exit.</param>
    /// <returns>What it did until then.</returns>
    public async Task<ProcessResult> KillAsync(CancellationToken cancellationToken = default)
    {
        _process.Kill(entireProcessTree: false);
        return await WaitAsync(TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Kills the process and its children if it is still running.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited in the meantime.
        }

        _process.Dispose();
    }

    private string Describe() => $"{_process.StartInfo.FileName} {string.Join(' ', _process.StartInfo.ArgumentList)}";
}
