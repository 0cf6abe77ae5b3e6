# error: Dockerfile:2: no build stage in current context
RUN echo before from
FROM alpine
