# Build: docker build -t gridcase .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system gridcase
COPY --from=build /src/target/release/gridcase /usr/local/bin/gridcase
USER gridcase
EXPOSE 4000
ENTRYPOINT ["gridcase"]
CMD ["serve", "--listen", "0.0.0.0:4000"]
