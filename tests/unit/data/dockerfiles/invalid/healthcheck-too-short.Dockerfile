# error: Dockerfile:3: Interval "interval" cannot be less than 1ms
FROM alpine
HEALTHCHECK --interval=10us CMD true
