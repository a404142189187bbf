namespace Ingest.Pipeline.ClickHouse.Http;

internal static class ClickHouseErrors
{
    /// <summary>Worth sending the same request again: the server said so (<see cref="ClickHouseServerException.IsRetryable"/>),
    /// or the request never got a verdict (connection refused or reset, timeout: the outcome is unknown, and
    /// resending identical bytes is what makes that safe with block deduplication).</summary>
    public static bool IsRetryable(Exception e) => e switch
    {
        ClickHouseServerException ch => ch.IsRetryable,
        HttpRequestException or TaskCanceledException or IOException => true,
        _ => false,
    };
}
