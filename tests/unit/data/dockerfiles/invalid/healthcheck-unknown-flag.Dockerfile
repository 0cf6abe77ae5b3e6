# error: Dockerfile:3: unknown flag: --intervall
FROM alpine
HEALTHCHECK --intervall=5s CMD true
