# error: Dockerfile:3: FROM requires either one or three arguments
FROM alpine
FROM alpine IS builder
