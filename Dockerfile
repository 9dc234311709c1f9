# Multi-stage build of erp-server. tiberius is pure Rust (rustls), so no ODBC driver or
# OpenSSL is needed at run time.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p erp-server \
 && strip target/release/erp-server

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app erp
WORKDIR /app
COPY --from=build /src/target/release/erp-server /usr/local/bin/erp-server
USER erp
ENV ERP_BIND=0.0.0.0:8080 ERP_ENV=production
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["/usr/local/bin/erp-server"]
