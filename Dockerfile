# Multi-stage build of the pgrest binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /pgrest .

FROM debian:bookworm-slim
# CA certificates, so db-uri with sslmode=verify-full and JWKS over HTTPS work.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /pgrest /usr/local/bin/pgrest
USER nobody
EXPOSE 3000 3001
ENTRYPOINT ["/usr/local/bin/pgrest"]
