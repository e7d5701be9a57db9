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

# Installed the way README.md says: the profile goes into Debian's conf.d,
# and Debian's /etc/mosquitto/mosquitto.conf (persistence_location
# /var/lib/mosquitto/, include_dir conf.d) is the config mosquitto runs.
# Its log goes to /var/log/mosquitto/; the second piece adds stderr, so
# `docker logs` shows it too.
# Debian's mosquitto.service makes /run/mosquitto (pid_file) before it
# starts the broker; without systemd the image does.
COPY broker-config/mosquitto.dev.conf /etc/mosquitto/conf.d/pitemp.conf
RUN printf 'log_dest stderr\n' >/etc/mosquitto/conf.d/zz-docker-log.conf \
 && install -d -m 0740 -o mosquitto /run/mosquitto

# Started as root, mosquitto drops to the "mosquitto" user the package
# created, which owns persistence_location (/var/lib/mosquitto/).
EXPOSE 1883
CMD ["mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"]
