# error: Dockerfile:3: duplicate flag specified: --chown
FROM alpine
COPY --chown=1 --chown=2 a b
