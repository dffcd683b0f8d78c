namespace BatchScheduler.Executors.BuiltIn;

/// <summary>A failure simulated by the <c>demo</c> executor.</summary>
internal sealed class DemoFailureException(string message) : Exception(message);
