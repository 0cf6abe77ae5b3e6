# error: Dockerfile:3: --retries cannot be negative (-1)
FROM alpine
HEALTHCHECK --retries=-1 CMD true
