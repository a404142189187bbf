using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Ingest.Worker.Admin;

/// <summary>The admin bearer token. Only its SHA-256 is kept and compared, in constant time: equal-length digests mean
/// neither the comparison's duration nor its early exit tells a caller how much of a guess was right, or the token's length.</summary>
internal sealed class AdminToken(string token)
{
    private readonly byte[] _digest = SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Whether an <c>Authorization</c> header value carries this token as <c>Bearer &lt;token&gt;</c>.</summary>
    public bool Matches(string? authorization)
    {
        if (!AuthenticationHeaderValue.TryParse(authorization, out var header)
            || !string.Equals(header.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase)
            || header.Parameter is not { Length: > 0 } presented)
            return false;
        return CryptographicOperations.FixedTimeEquals(_digest, SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
    }
}
