FROM alpine
ARG V=1
ONBUILD ADD . /app/src
ONBUILD RUN /usr/local/bin/python-build --dir /app/src
ONBUILD COPY --from=builder $V /dst
ONBUILD ENV X=$V
