using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Tests;

/// <summary>The certificate check used with Ingest:ClickHouse:CaCertificateFile, given what the platform reports
/// (its chain verdict is against the system store, so a private CA always shows up as a chain error).</summary>
public sealed class CustomCaValidationTests : IDisposable
{
    private readonly X509Certificate2 _ca = Ca("test CA");
    private readonly X509Certificate2 _otherCa = Ca("other CA");

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    [Fact]
    public void A_certificate_signed_by_the_configured_ca_passes()
    {
        using var server = Signed(_ca);
        Assert.True(Check([_ca], server, SslPolicyErrors.RemoteCertificateChainErrors, out var why));
        Assert.Null(why);
        Assert.True(Check([_otherCa, _ca], server, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void A_certificate_signed_by_another_ca_is_refused()
    {
        using var server = Signed(_otherCa);
        Assert.False(Check([_ca], server, SslPolicyErrors.RemoteCertificateChainErrors, out var why));
        Assert.StartsWith("its certificate (CN=127.0.0.1, issued by CN=other CA) does not chain to the configured CA certificate(s): ", why, StringComparison.Ordinal);
        // Pinned: even what the system store would trust must chain to the configured CA.
        Assert.False(Check([_ca], server, SslPolicyErrors.None));
    }

    [Fact]
    public void A_host_name_mismatch_is_refused_even_with_the_right_ca()
    {
        using var server = Signed(_ca);
        Assert.False(Check([_ca], server, SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateChainErrors, out var why));
        Assert.Equal("its certificate (CN=127.0.0.1) does not name the host of the endpoint", why);
        Assert.False(Check([_ca], server, SslPolicyErrors.RemoteCertificateNameMismatch));
    }

    [Fact]
    public void A_self_signed_server_certificate_given_as_the_ca_passes()
    {
        using var server = Ca("127.0.0.1");
        Assert.True(Check([server], server, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void No_certificate_is_refused() =>
        Assert.False(ClickHouseHttpClient.TrustOnly([_ca])(this, null, null, SslPolicyErrors.RemoteCertificateNotAvailable));

    private static bool Check(X509Certificate2[] roots, X509Certificate2 server, SslPolicyErrors errors) => Check(roots, server, errors, out _);

    private static bool Check(X509Certificate2[] roots, X509Certificate2 server, SslPolicyErrors errors, out string? why)
    {
        using var chain = new X509Chain();
        string? heard = "(not called)";
        var accepted = ClickHouseHttpClient.TrustOnly([.. roots], v => heard = v)(new object(), server, chain, errors);
        why = heard;
        return accepted;
    }

    private static X509Certificate2 Ca(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.DigitalSignature, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Signed(X509Certificate2 ca)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        return request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1), RandomNumberGenerator.GetBytes(16));
    }
}
