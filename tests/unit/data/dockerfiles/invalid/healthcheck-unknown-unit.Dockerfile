# error: Dockerfile:3: time: unknown unit "d" in duration "1d"
FROM alpine
HEALTHCHECK --start-period=1d CMD true
