# spotcheck.Dockerfile: the rig's spot checker -- Debian's mosquitto_sub,
# printing "topic payload" for the first N messages under pitemp/# and
# exiting. The command line comes from docker/compose.yaml, e.g.
#   mosquitto_sub -h broker -v -t 'pitemp/#' -C 20 -W 60

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      mosquitto-clients \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin spotcheck
USER spotcheck
ENTRYPOINT ["mosquitto_sub"]
CMD ["-h", "broker", "-v", "-t", "pitemp/#", "-C", "20", "-W", "60"]
