# error: Dockerfile:3: unsupported mount type "volume"
FROM alpine
RUN --mount=type=volume,target=/x true
