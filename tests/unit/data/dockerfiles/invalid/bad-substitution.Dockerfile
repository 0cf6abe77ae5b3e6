# error: Dockerfile:3: syntax error: bad substitution
FROM alpine
ENV A=${}
