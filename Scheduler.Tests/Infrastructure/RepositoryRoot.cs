namespace BatchScheduler.Tests.Infrastructure;

/// <summary>The checkout the tests run from: the folder above the test's binaries that holds BatchScheduler.sln.</summary>
public static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "BatchScheduler.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("BatchScheduler.sln not found above the test's directory.");
    }
}
