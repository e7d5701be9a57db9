# broker.Dockerfile: the pitemp test-rig broker -- Debian's mosquitto 2.0.x
# running the project's development profile, broker-config/mosquitto.dev.conf
# (plaintext, anonymous: only for the rig's internal network).
#
# Build context: the repository top (see docker/compose.yaml).

FROM debian:bookworm-slim

# mosquitto-clients gives the healthcheck its mosquitto_sub.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      mosquitto mosquitto-clients \
 && rm -rf /var/lib/apt/lists/*

COPY broker-config/mosquitto.dev.conf /etc/pitemp/mosquitto.dev.conf

# Started as root, mosquitto drops to the "mosquitto" user the package
# created, which owns persistence_location (/var/lib/mosquitto/).
EXPOSE 1883
CMD ["mosquitto", "-c", "/etc/pitemp/mosquitto.dev.conf"]
