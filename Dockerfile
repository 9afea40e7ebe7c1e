# Multi-stage build of the pgrest binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /pgrest .

FROM debian:bookworm-slim
COPY --from=build /pgrest /usr/local/bin/pgrest
USER nobody
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/pgrest"]
