using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ingest.LocalStack.Tls;

/// <summary>Throwaway certificates for TLS on loopback: a self-signed CA and server certificates it signs, made
/// in-process with CertificateRequest (no openssl process). ECDSA P-256: instant to generate, and ClickHouse
/// 18.16 (Debian's build on the system OpenSSL 3) reads the PKCS#8 PEM key.</summary>
public static class TestCertificates
{
    /// <summary>A CA certificate with its private key, valid from a few minutes ago (clock skew) for 30 days.</summary>
    public static X509Certificate2 CreateCa(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        return request.CreateSelfSigned(notBefore, notBefore.AddDays(30));
    }

    /// <summary>A server certificate signed by <paramref name="ca"/> for the given names and addresses (the subject
    /// alternative names clients check), with its private key, valid as long as the CA.</summary>
    public static X509Certificate2 CreateServer(X509Certificate2 ca, IReadOnlyList<string> dnsNames, IReadOnlyList<IPAddress> addresses)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = addresses.Count > 0 ? addresses[0].ToString() : dnsNames[0];
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var a in addresses) names.AddIpAddress(a);
        foreach (var d in dnsNames) names.AddDnsName(d);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        // Valid as long as its CA (Create refuses to outlive the issuer).
        using var certificate = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), ca.NotAfter, RandomNumberGenerator.GetBytes(16));
        return certificate.CopyWithPrivateKey(key);
    }

    /// <summary>Writes <paramref name="ca"/>'s certificate as PEM (what clients trust), and the server's certificate
    /// and PKCS#8 private key as PEM files (the key readable by the owner only).</summary>
    public static void WritePem(X509Certificate2 ca, X509Certificate2 server, string caFile, string certificateFile, string privateKeyFile)
    {
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        File.WriteAllText(certificateFile, server.ExportCertificatePem());
        using var key = server.GetECDsaPrivateKey() ?? throw new InvalidOperationException("the server certificate has no ECDSA private key");
        File.WriteAllText(privateKeyFile, "");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(privateKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(privateKeyFile, key.ExportPkcs8PrivateKeyPem());
    }
}
