# error: Dockerfile:3: RUN requires at least one argument
FROM alpine
RUN
