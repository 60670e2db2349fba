# syntax=docker/dockerfile:1
# The kyuta-operator image. Build from the repository root:
#   docker build -f deploy/docker/operator.Dockerfile -t kyuta-operator:dev .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kyuta-operator \
 && cp target/release/kyuta-operator /kyuta-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /kyuta-operator /usr/local/bin/kyuta-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kyuta-operator"]
