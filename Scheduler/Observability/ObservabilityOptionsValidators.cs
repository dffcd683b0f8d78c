using Microsoft.Extensions.Options;

namespace BatchScheduler.Observability;

/// <summary>Validates <see cref="ConsoleLogOptions"/>.</summary>
internal sealed class ConsoleLogOptionsValidator : IValidateOptions<ConsoleLogOptions>
{
    public ValidateOptionsResult Validate(string? name, ConsoleLogOptions o) =>
        string.Equals(o.Format, ConsoleLogOptions.Text, StringComparison.OrdinalIgnoreCase)
            || string.Equals(o.Format, ConsoleLogOptions.Json, StringComparison.OrdinalIgnoreCase)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{ConsoleLogOptions.Section}:Format must be '{ConsoleLogOptions.Text}' or '{ConsoleLogOptions.Json}' (was '{o.Format}').");
}

/// <summary>Validates <see cref="OpenTelemetryOptions"/>.</summary>
internal sealed class OpenTelemetryOptionsValidator : IValidateOptions<OpenTelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, OpenTelemetryOptions o)
    {
        var errors = new List<string>();
        var s = $"{OpenTelemetryOptions.Section}:Otlp";
        if (o.Otlp.Endpoint is { } endpoint && !NodeTelemetry.TryParseEndpoint(endpoint, out _))
            errors.Add($"{s}:Endpoint must be an absolute http or https URL such as http://127.0.0.1:4317 (was '{endpoint}').");
        if (o.Otlp.Protocol is { } protocol && NodeTelemetry.ProtocolOf(protocol) is null)
            errors.Add($"{s}:Protocol must be '{OtlpSettings.Grpc}' or '{OtlpSettings.HttpProtobuf}' (was '{protocol}').");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
