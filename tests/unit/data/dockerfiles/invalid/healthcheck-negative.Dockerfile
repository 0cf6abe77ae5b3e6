# error: Dockerfile:3: Interval "timeout" cannot be negative
FROM alpine
HEALTHCHECK --timeout=-5s CMD true
