using System.Globalization;

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

    /// <summary>The INSERT does not fit the table as it is now (a column dropped, renamed or retyped since the schema
    /// was read): 8 THERE_IS_NO_COLUMN, 10 NOT_FOUND_COLUMN_IN_BLOCK, 16 NO_SUCH_COLUMN_IN_TABLE, 53 TYPE_MISMATCH,
    /// 70 CANNOT_CONVERT_TYPE (https://github.com/ClickHouse/ClickHouse/blob/master/src/Common/ErrorCodes.cpp), and
    /// 368 BAD_CAST, which is what 18.16 answers when a Native column's type is not the table column's (it silently
    /// drops Native columns the table lacks). The caller checks that the table really changed.</summary>
    public static bool IsSchemaMismatch(Exception e) => e is ClickHouseServerException { Code: 8 or 10 or 16 or 53 or 70 or 368 };

    /// <summary>The <c>code</c> label of a failed request: ClickHouse's error code; "timeout" when the request timed out
    /// (HttpClient reports its timeout as a TaskCanceledException); "network" when no ClickHouse answer came (refused,
    /// reset, or a 5xx without a code: something between us and the server answered).</summary>
    public static string MetricCode(Exception e) => e switch
    {
        ClickHouseServerException { Code: not 0 } ch => ch.Code.ToString(CultureInfo.InvariantCulture),
        TaskCanceledException or TimeoutException => "timeout",
        _ => "network",
    };
}
