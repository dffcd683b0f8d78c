namespace BatchScheduler.Lifecycle;

/// <summary>
/// In-process exclusion of one item's moves: one of <see cref="Stripes"/> async locks per (data type,
/// entity) hash. On SQLite, where one node owns the file, this alone serialises every move of an
/// item; clustered stores add a row lock on top (<see cref="ItemRows"/>), and this keeps a node's own
/// movers from queueing on database connections for it.
/// </summary>
internal sealed class ItemLocks
{
    private const int Stripes = 1024;
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, Stripes).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>Holds the lock of every item in <paramref name="entityIds"/> until the result is disposed.</summary>
    public async Task<IDisposable> EnterAsync(string dataType, IEnumerable<string> entityIds, CancellationToken cancellationToken)
    {
        // Taken in stripe order, so two movers of overlapping sets cannot wait on each other.
        var taken = new List<SemaphoreSlim>();
        try
        {
            foreach (var stripe in entityIds.Select(e => StripeOf(dataType, e)).Distinct().Order())
            {
                await _stripes[stripe].WaitAsync(cancellationToken);
                taken.Add(_stripes[stripe]);
            }
        }
        catch
        {
            Release(taken);
            throw;
        }
        return new Held(taken);
    }

    public Task<IDisposable> EnterAsync(string dataType, string entityId, CancellationToken cancellationToken) =>
        EnterAsync(dataType, [entityId], cancellationToken);

    private static int StripeOf(string dataType, string entityId) =>
        (int)((uint)HashCode.Combine(StringComparer.Ordinal.GetHashCode(dataType), StringComparer.Ordinal.GetHashCode(entityId)) % Stripes);

    private static void Release(List<SemaphoreSlim> taken)
    {
        for (var i = taken.Count - 1; i >= 0; i--)
            taken[i].Release();
    }

    private sealed class Held(List<SemaphoreSlim> taken) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
                Release(taken);
        }
    }
}
