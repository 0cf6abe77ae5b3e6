# error: Dockerfile:3: Missing command after HEALTHCHECK CMD
FROM alpine
HEALTHCHECK CMD
