# error: Dockerfile:3: syntax error: missing '}'
FROM alpine
WORKDIR /a/${B
