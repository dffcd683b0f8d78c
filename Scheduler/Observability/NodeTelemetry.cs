using BatchScheduler.Hosting;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Serilog;
using Serilog.Formatting.Compact;

namespace BatchScheduler.Observability;

/// <summary>
/// The executable's telemetry choices, made from its settings: the console log's format
/// (<see cref="ConsoleLogOptions"/>) and whether the engine's spans are exported over OTLP
/// (<see cref="OpenTelemetryOptions"/>). The packages add no sink or exporter of their own.
/// </summary>
internal static class NodeTelemetry
{
    /// <summary>The <c>service.name</c> of exported spans unless <c>OTEL_SERVICE_NAME</c> (or <c>OTEL_RESOURCE_ATTRIBUTES</c>) says.</summary>
    public const string ServiceName = "BatchScheduler";

    private const string TextTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Message:lj}{NewLine}{Exception}";

    /// <summary>Binds and validates both sections; adds the OTLP exporter only when an endpoint is configured.</summary>
    public static IServiceCollection AddNodeTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSettingsSection<ConsoleLogOptions>(configuration, ConsoleLogOptions.Section);
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<ConsoleLogOptions>, ConsoleLogOptionsValidator>();
        services.AddSettingsSection<OpenTelemetryOptions>(configuration, OpenTelemetryOptions.Section);
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<OpenTelemetryOptions>, OpenTelemetryOptionsValidator>();

        var otlp = configuration.GetSection(OpenTelemetryOptions.Section).Get<OpenTelemetryOptions>()?.Otlp ?? new OtlpSettings();
        var fromEnvironment = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
            || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
        if (string.IsNullOrWhiteSpace(otlp.Endpoint) && !fromEnvironment)
            return services;
        var namedByEnvironment = !string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"])
            || (configuration["OTEL_RESOURCE_ATTRIBUTES"]?.Contains("service.name=", StringComparison.Ordinal) ?? false);
        services.AddOpenTelemetry()
            .ConfigureResource(r =>
            {
                if (!namedByEnvironment)
                    r.AddService(ServiceName);
            })
            .WithTracing(t => t.AddSource(AttemptTracing.SourceName).AddOtlpExporter(o =>
            {
                // Unset here, the exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself; an
                // invalid value is reported by the validator before anything is exported.
                if (otlp.Endpoint is { } endpoint && TryParseEndpoint(endpoint, out var uri))
                    o.Endpoint = uri;
                if (otlp.Protocol is { } protocol && ProtocolOf(protocol) is { } parsed)
                    o.Protocol = parsed;
            }));
        return services;
    }

    /// <summary>Writes the console sink in the format <c>Logging:Console:Format</c> names (text when it names none it knows: the validator stops such a node).</summary>
    public static LoggerConfiguration WriteConsole(this LoggerConfiguration logger, IConfiguration configuration)
    {
        var format = configuration.GetSection(ConsoleLogOptions.Section).Get<ConsoleLogOptions>()?.Format;
        return string.Equals(format, ConsoleLogOptions.Json, StringComparison.OrdinalIgnoreCase)
            ? logger.WriteTo.Console(new RenderedCompactJsonFormatter())
            : logger.WriteTo.Console(outputTemplate: TextTemplate);
    }

    internal static bool TryParseEndpoint(string value, out Uri uri) =>
        Uri.TryCreate(value, UriKind.Absolute, out uri!) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    internal static OtlpExportProtocol? ProtocolOf(string value) => value.ToLowerInvariant() switch
    {
        OtlpSettings.Grpc => OtlpExportProtocol.Grpc,
        OtlpSettings.HttpProtobuf => OtlpExportProtocol.HttpProtobuf,
        _ => null,
    };
}
