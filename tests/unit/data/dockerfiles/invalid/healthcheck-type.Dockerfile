# error: Dockerfile:3: Unknown type "RUN" in HEALTHCHECK (try CMD)
FROM alpine
HEALTHCHECK RUN true
