# error: Dockerfile:3: WORKDIR requires exactly one argument
FROM alpine
WORKDIR
