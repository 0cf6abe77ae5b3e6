# error: Dockerfile:3: unsupported network mode "bridge"
FROM alpine
RUN --network=bridge true
