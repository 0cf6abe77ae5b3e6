FROM golang:1.22 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM gcr.io/distroless/static AS Runtime
COPY --from=builder /out/app /usr/local/bin/app
COPY --from=0 /src/LICENSE /LICENSE
ENTRYPOINT ["/usr/local/bin/app"]
