# error: Dockerfile:3: ENV must have two arguments
FROM alpine
ENV ONLYNAME
