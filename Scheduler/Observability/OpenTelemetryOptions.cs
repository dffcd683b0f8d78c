namespace BatchScheduler.Observability;

/// <summary>
/// Where the executable exports its traces (section <c>OpenTelemetry</c>). Nothing is exported unless
/// <c>OpenTelemetry:Otlp:Endpoint</c> or the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (or
/// <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>) names a collector.
/// </summary>
internal sealed class OpenTelemetryOptions
{
    public const string Section = "OpenTelemetry";

    /// <summary>The OTLP exporter of the <c>BatchScheduler</c> activity source's spans.</summary>
    public OtlpSettings Otlp { get; set; } = new();
}

/// <summary>The OTLP exporter's settings (<c>OpenTelemetry:Otlp</c>); unset ones fall back to the standard <c>OTEL_EXPORTER_OTLP_*</c> variables.</summary>
internal sealed class OtlpSettings
{
    public const string Grpc = "grpc";
    public const string HttpProtobuf = "http/protobuf";

    /// <summary>The collector's URL, e.g. <c>http://127.0.0.1:4317</c> (gRPC) or <c>http://127.0.0.1:4318/v1/traces</c> (HTTP: the whole traces URL).</summary>
    public string? Endpoint { get; set; }

    /// <summary><c>grpc</c> or <c>http/protobuf</c>; unset, <c>OTEL_EXPORTER_OTLP_PROTOCOL</c> or else <c>grpc</c>.</summary>
    public string? Protocol { get; set; }
}
