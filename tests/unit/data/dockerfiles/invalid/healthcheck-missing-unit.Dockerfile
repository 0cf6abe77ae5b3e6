# error: Dockerfile:3: time: missing unit in duration "30"
FROM alpine
HEALTHCHECK --timeout=30 CMD true
