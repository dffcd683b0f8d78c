namespace BatchScheduler.Configuration;

/// <summary>The optional alert webhook (section <c>Alerts</c>); without <see cref="WebhookUrl"/> nothing is sent.</summary>
internal sealed class AlertOptions
{
    public const string Section = "Alerts";

    /// <summary>Absolute http or https address the alerts are POSTed to as JSON; unset turns alerting off.</summary>
    public string? WebhookUrl { get; set; }

    /// <summary>Failed ÷ executions of one data type over <see cref="FailureRateWindow"/> at or above which an alert is sent (0 &lt; x ≤ 1).</summary>
    public double FailureRateThreshold { get; set; } = 0.5;

    /// <summary>How far back the failure rate is computed, from the per-minute aggregate.</summary>
    public TimeSpan FailureRateWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The fewest executions in the window for which a failure rate counts.</summary>
    public int FailureRateMinExecutions { get; set; } = 20;

    /// <summary>Whether alerts are sent at all.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(WebhookUrl);

    /// <summary>The webhook as a URI (valid once the options are validated).</summary>
    public Uri Webhook => new(WebhookUrl!, UriKind.Absolute);
}
