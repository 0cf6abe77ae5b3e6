# error: Dockerfile:4: no build stage in current context
ARG A=1

ENV B=2
FROM alpine
