# error: Dockerfile:3: time: invalid duration "abc"
FROM alpine
HEALTHCHECK --interval=abc CMD true
