# Ingest worker image. librdkafka 2.15.1 is built from source in the build stage (scripts/librdkafka.sh), exactly
# as on developer machines, so the image carries the native library Confluent.Kafka 2.15.1 was written for.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config python3 zip npm \
      libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/librdkafka.sh \
 && dotnet publish src/Ingest.Worker -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# librdkafka's runtime dependencies (TLS, SASL, zstd, lz4, zlib).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 libsasl2-2 libsasl2-modules libzstd1 liblz4-1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENV Urls=http://0.0.0.0:8080 \
    DOTNET_gcServer=0
EXPOSE 8080
USER app
ENTRYPOINT ["dotnet", "Ingest.Worker.dll"]
