using System.Net.Http.Headers;
using System.Text;
using System.Threading.Channels;
using BatchScheduler.Configuration;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Alerts;

/// <summary>
/// Delivers alerts to <see cref="AlertOptions.WebhookUrl"/> off the caller's path: <see cref="Enqueue"/>
/// only writes to a bounded in-memory queue (a full queue drops the alert, event 1803), and this
/// service POSTs them one by one, retrying a non-2xx answer, a timeout or a connection error
/// <see cref="MaxAttempts"/> times in all with a doubling delay, then logs that it gave up (1802).
/// Alerts still queued when the node stops are lost: this is a notification, not a record.
/// </summary>
internal sealed class AlertSender(IHttpClientFactory http, IOptions<AlertOptions> options, TimeProvider time, ILogger<AlertSender> logger)
    : BackgroundService
{
    public const string HttpClientName = "alerts";
    public const int QueueCapacity = 1000;
    public const int MaxAttempts = 4;
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);

    private readonly Channel<AlertMessage> _queue = Channel.CreateBounded<AlertMessage>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private long _dropped;

    /// <summary>Alerts dropped because the queue was full, since the node started.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues the alert without waiting; does nothing when alerting is off.</summary>
    public void Enqueue(AlertMessage alert)
    {
        if (!options.Value.Enabled || _queue.Writer.TryWrite(alert))
            return;
        AlertLog.Dropped(logger, alert.Kind, alert.DataType, alert.EntityId, Interlocked.Increment(ref _dropped));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
            return;
        AlertLog.Enabled(logger, options.Value.Webhook.Authority); // not the whole address: it may carry a token
        try
        {
            await foreach (var alert in _queue.Reader.ReadAllAsync(stoppingToken))
                await DeliverAsync(alert, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task DeliverAsync(AlertMessage alert, CancellationToken stoppingToken)
    {
        var client = http.CreateClient(HttpClientName);
        var delay = FirstRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            string reason;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(RequestTimeout);
                using var content = new StringContent(alert.Body, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
                using var response = await client.PostAsync(options.Value.Webhook, content, timeout.Token);
                if (response.IsSuccessStatusCode)
                {
                    AlertLog.Delivered(logger, alert.Kind, alert.DataType, alert.EntityId, attempt);
                    return;
                }
                reason = $"HTTP {(int)response.StatusCode}";
            }
            catch (HttpRequestException ex)
            {
                reason = ex.Message;
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                reason = $"no answer within {RequestTimeout.TotalSeconds:0} s";
            }
            if (attempt == MaxAttempts)
            {
                AlertLog.GaveUp(logger, alert.Kind, alert.DataType, alert.EntityId, attempt, reason);
                return;
            }
            AlertLog.AttemptFailed(logger, alert.Kind, alert.DataType, alert.EntityId, attempt, reason, time.GetUtcNow() + delay);
            await Task.Delay(delay, time, stoppingToken);
            delay *= 2;
        }
    }
}
