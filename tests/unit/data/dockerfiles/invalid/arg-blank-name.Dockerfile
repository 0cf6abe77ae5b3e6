# error: Dockerfile:3: ARG names can not be blank
FROM alpine
ARG =x
