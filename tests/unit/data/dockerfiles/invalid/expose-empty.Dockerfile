# error: Dockerfile:3: EXPOSE requires at least one argument
FROM alpine
EXPOSE
