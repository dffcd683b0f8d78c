using System.Net;

namespace BatchScheduler.Executors.BuiltIn;

/// <summary>
/// The endpoint behind the <c>http</c> executor answered with a status other than 2xx or 429.
/// The retry policy handles it like any other failure.
/// </summary>
internal sealed class HttpExecutorException(HttpStatusCode statusCode, string message) : Exception(message)
{
    /// <summary>The status the endpoint answered with.</summary>
    public HttpStatusCode StatusCode { get; } = statusCode;
}
