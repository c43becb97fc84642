# HeliosDB-Lite in an empty image: the statically linked binary and nothing
# else (no shell, no libc, no CA certificates: none is needed). No base
# image is pulled. Build the binary on the host first, then the image:
#
#   make static          # bin/heliosdb-lite-static (cgo, -extldflags -static)
#   docker build -f Dockerfile -t heliosdb-lite:local bin
#
# (`make image` does both; `make cluster` also starts docker-compose.yml.)
# The build context is bin/, so only the binary is sent to the engine.
FROM scratch
COPY heliosdb-lite-static /heliosdb-lite
# PostgreSQL, raft, gossip (TCP and UDP), admin HTTP API.
EXPOSE 5432 7000 7100 7100/udp 8080
VOLUME ["/data"]
ENTRYPOINT ["/heliosdb-lite"]
CMD ["start", "--listen", "0.0.0.0", "--port", "5432", "--data-dir", "/data"]
