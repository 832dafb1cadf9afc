# syntax=docker/dockerfile:1
# Build:  docker build -t gatehouse .
# Run:    docker run -p 80:80 -v "$PWD/my-config:/etc/gatehouse:ro" gatehouse
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.buildVersion=${VERSION}" -o /out/gatehouse . \
 && /out/gatehouse version

# A static binary on a distroless base: no shell, no package manager,
# running as an unprivileged user. Docker lets unprivileged processes bind
# ports below 1024 inside a container (net.ipv4.ip_unprivileged_port_start=0).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
# The quickstart as a default; mount your own configuration over it.
COPY examples/quickstart/ /etc/gatehouse/
USER nonroot:nonroot
EXPOSE 80
# The probe needs no shell tools: gatehouse asks its own admin endpoint.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/gatehouse", "health"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["run", "--config", "/etc/gatehouse"]
