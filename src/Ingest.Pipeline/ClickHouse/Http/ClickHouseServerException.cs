using System.Net;
using System.Text.RegularExpressions;

namespace Ingest.Pipeline.ClickHouse.Http;

/// <summary>An error ClickHouse answered with, carrying its numeric code (ErrorCodes.cpp).</summary>
public sealed partial class ClickHouseServerException : Exception
{
    public ClickHouseServerException(int code, HttpStatusCode status, string message)
        : base(message)
    {
        Code = code;
        Status = status;
    }

    /// <summary>ClickHouse error code, or 0 when the answer carried none.</summary>
    public int Code { get; }

    public HttpStatusCode Status { get; }

    /// <summary>Errors worth retrying with the same data: the server, its Keeper or the network was the problem,
    /// not the request. 159 timeout, 164 readonly setting, 202 too many simultaneous queries, 209/210 socket,
    /// 242 table read-only (Keeper lost), 252 too many parts, 285/286 quorum, 319 unknown insert status,
    /// 425 system error, 999 Keeper exception, 225 no Keeper session.</summary>
    public bool IsRetryable => Code is 159 or 202 or 209 or 210 or 225 or 242 or 252 or 285 or 286 or 319 or 425 or 999
        || (Code == 0 && (int)Status >= 500) || IsKeeperLoss;

    /// <summary>The server lost its Keeper session, whatever code carries it (an ALTER answers "Session expired", a
    /// Distributed INSERT wraps the remote replica's error): writes come back once the Keeper does.</summary>
    public bool IsKeeperLoss =>
        Message.Contains("Coordination::Exception", StringComparison.Ordinal)
        || Message.Contains("Session expired", StringComparison.Ordinal)
        || Message.Contains("Connection loss", StringComparison.Ordinal)
        || Message.Contains("Table is in readonly mode", StringComparison.Ordinal);

    /// <summary>Parses both forms: 18.16 "Code: 60, e.displayText() = DB::Exception: ..." and modern
    /// "Code: 60. DB::Exception: ... (UNKNOWN_TABLE)", preferring the X-ClickHouse-Exception-Code header.</summary>
    public static ClickHouseServerException Parse(HttpStatusCode status, string? codeHeader, string body)
    {
        var code = 0;
        if (!int.TryParse(codeHeader, out code))
        {
            var m = CodePattern().Match(body);
            code = m.Success ? int.Parse(m.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) : 0;
        }
        var text = body.Trim();
        if (text.Length > 2000) text = text[..2000] + "…";
        return new ClickHouseServerException(code, status, $"ClickHouse error {code} (HTTP {(int)status}): {text}");
    }

    [GeneratedRegex(@"Code:\s*(\d+)")]
    private static partial Regex CodePattern();
}
