# error: Dockerfile:4: duplicate stage name "build"
FROM alpine AS build
RUN true
FROM busybox AS BUILD
