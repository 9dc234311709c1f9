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
# Exec form, no shell (the slim image's /bin/sh is dash, which has no /dev/tcp): the
# binary asks GET /health on ERP_BIND itself and exits 0 when healthy, 1 otherwise.
# examples/server/tests/healthcheck.rs runs this exact command line.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["/usr/local/bin/erp-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/erp-server"]
