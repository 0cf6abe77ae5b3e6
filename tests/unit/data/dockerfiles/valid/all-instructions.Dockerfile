# a full-line comment
FROM --platform=linux/arm64 debian:bookworm-slim AS base
MAINTAINER Jane Doe <jane@example.com>
LABEL org.opencontainers.image.title="demo app" version=1.0 "quoted key"=x
ARG VERSION=1.2.3
ENV APP_HOME=/opt/app PATH=/opt/app/bin:$PATH
RUN echo "# not a comment" && apt-get update
RUN ["/bin/bash", "-c", "echo exec form"]
ADD --chown=1000:1000 --chmod=0644 --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /tmp/
ADD --keep-git-dir=true --link https://github.com/moby/buildkit.git#v0.10.1 /buildkit
COPY --link --parents --exclude=*.tmp --exclude=*.log src/*/main.go $APP_HOME/
VOLUME /data $APP_HOME/logs
VOLUME ["/cache"]
EXPOSE 80/tcp 53/udp 8000-8010
USER 1000:1000
WORKDIR $APP_HOME/v$VERSION
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ONBUILD RUN echo triggered $VERSION
ENTRYPOINT exec /opt/app/bin/run
CMD ["--help"]
