# syntax=docker/dockerfile:1
# The Discord simulator image, for local clusters (Tiltfile). Build from the repository root:
#   docker build -f deploy/docker/sim.Dockerfile -t kyuta-sim:dev .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kyuta-sim \
 && cp target/release/kyuta-sim /kyuta-sim

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /kyuta-sim /usr/local/bin/kyuta-sim
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kyuta-sim"]
