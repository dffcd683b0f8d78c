namespace BatchScheduler.Cli.Submit;

/// <summary>
/// One line of progress: redrawn in place on a terminal, else one line per change so that logs
/// of a redirected run stay readable.
/// </summary>
internal sealed class BatchProgressBar(TextWriter output, bool interactive)
{
    private const int Width = 20;
    private (long Succeeded, long Failed, long Invalid, long Pending)? _shown;
    private int _drawn;

    public async Task ShowAsync(BatchSnapshot state)
    {
        var counts = (state.Succeeded, state.Failed, state.Invalid, state.Pending);
        if (_shown == counts)
            return;
        _shown = counts;
        var line = Format(state);
        if (interactive)
        {
            // Pad over the previous line in case this one is shorter.
            await output.WriteAsync("\r" + line.PadRight(_drawn));
            _drawn = line.Length;
        }
        else
        {
            await output.WriteLineAsync(line);
        }
        await output.FlushAsync();
    }

    /// <summary>Ends the redrawn line so that what follows starts on its own.</summary>
    public async Task EndAsync()
    {
        if (_drawn == 0)
            return;
        _drawn = 0;
        await output.WriteLineAsync();
    }

    public static string Format(BatchSnapshot state)
    {
        var finished = state.Total > 0 ? Math.Clamp(state.Total - state.Pending, 0, state.Total) : 0;
        var filled = state.Total > 0 ? (int)(finished * Width / state.Total) : Width;
        var percent = state.Total > 0 ? finished * 100 / state.Total : 100;
        return $"[{new string('#', filled)}{new string('.', Width - filled)}]{percent,4}%  done {SubmitCommand.Count(state.Succeeded)}  " +
               $"failed {SubmitCommand.Count(state.Failed)}  invalid {SubmitCommand.Count(state.Invalid)}  pending {SubmitCommand.Count(state.Pending)}";
    }
}
