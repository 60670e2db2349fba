# syntax=docker/dockerfile:1
# The kyuta-worker image. Build from the repository root:
#   docker build -f deploy/docker/worker.Dockerfile -t kyuta-worker:dev .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kyuta-worker \
 && cp target/release/kyuta-worker /kyuta-worker \
 && mkdir /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /kyuta-worker /usr/local/bin/kyuta-worker
USER 65532:65532
# The embedded store and other files live here (an emptyDir in Kubernetes, a volume in compose).
COPY --from=build --chown=65532:65532 /data /data
WORKDIR /data
EXPOSE 8080 9000
ENTRYPOINT ["/usr/local/bin/kyuta-worker"]
