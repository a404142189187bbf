# Ingest worker image. librdkafka comes from NuGet (librdkafka.redist 2.16.0, restored with Confluent.Kafka 2.16.0):
# nothing is compiled but the .NET code.
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY . .
# A portable (RID-less) publish keeps runtimes/linux-x64/native/ as the tests' build output has it, so Confluent.Kafka
# picks its librdkafka here exactly as it does under scripts/test.sh.
RUN dotnet publish src/Ingest.Worker -c Release -o /app \
 && dotnet publish src/Ingest.Cli -c Release -o /app/cli

# 10.0 is Ubuntu 24.04 "Noble" (.NET 10 ships no Debian images); -noble says so, so a change of the default tag
# cannot swap the OS under us. Which librdkafka loads: Confluent.Kafka tries the generic librdkafka.so first, which
# needs libsasl2.so.3, which this image lacks (Ubuntu's libsasl2-2, like the libsasl2.so.2 of the Debian 12 the tests
# run on, would not provide it either), so it falls back to centos8-librdkafka.so, the build the tests ran. That one links only glibc (needs 2.28; Noble has
# 2.39) and has OpenSSL, SASL (incl. GSSAPI), zstd, lz4 and zlib built in, so no apt packages are needed for it; its
# static OpenSSL probes the standard CA paths (librdkafka's ssl.ca.location), which the base image's ca-certificates fills.
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble
WORKDIR /app
COPY --from=build /app .
# The admin API listens on the pod's loopback only (Ingest:Admin:Url): the CLI is in the image so that
# `kubectl exec <pod> -- ingest status --worker http://127.0.0.1:8081 --token-file <mounted secret>` reaches it.
RUN printf '#!/bin/sh\nexec dotnet /app/cli/ingest.dll "$@"\n' > /usr/local/bin/ingest && chmod 755 /usr/local/bin/ingest
ENV Urls=http://0.0.0.0:8080 \
    DOTNET_gcServer=0
EXPOSE 8080
USER app
ENTRYPOINT ["dotnet", "Ingest.Worker.dll"]
