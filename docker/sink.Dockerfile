# sink.Dockerfile: pitemp-sink, writing into /data (the rig mounts a named
# volume there), built from this repository in two stages:
#   build    build-essential + the -dev packages; runs `make programs` (not
#            `make deps`, which installs the whole test tool chain)
#   runtime  bookworm-slim + the runtime libraries only, non-root user
#
# The build stage is word for word the same in sensor.Dockerfile and
# sink.Dockerfile, so the second image reuses the first one's cached layers.
# Build context: the repository top (see docker/compose.yaml).

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libpaho-mqtt-dev libcjson-dev libgpiod-dev \
      libssl-dev libsqlite3-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what `make programs` reads, so edits to tests or docs keep the cache.
COPY Makefile config.mk ./
COPY lib/ lib/
COPY sensor/ sensor/
COPY sink/ sink/
RUN make -j"$(nproc)" programs

FROM debian:bookworm-slim AS runtime
# libpaho-mqtt1.3: paho.mqtt.c (libpaho-mqtt3as, async + TLS);
# libcjson1: the codec; libgpiod2: libgpiod v1.6 for GPIO lines on a Pi;
# libssl3: lib/tls.c calls OpenSSL itself (paho depends on it anyway);
# libsqlite3-0, libpq5: --format sqlite, --format postgresql.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpaho-mqtt1.3 libcjson1 libgpiod2 libssl3 libsqlite3-0 libpq5 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin pitemp

# /data belongs to pitemp in the image, so a fresh named volume mounted there
# starts out writable by the sink (docker copies the ownership into it).
RUN install -d -o pitemp -g pitemp -m 0755 /data
WORKDIR /data
COPY --from=build /src/build/bin/pitemp-sink /usr/local/bin/pitemp-sink
# Fail the build, not the rig, when the program needs a library that the
# list above lacks.
RUN ! ldd /usr/local/bin/pitemp-sink | grep 'not found'
USER pitemp
ENTRYPOINT ["pitemp-sink"]
CMD ["--host", "broker", "--count", "100", "--output", "/data/readings.txt", "--timeout", "120"]
