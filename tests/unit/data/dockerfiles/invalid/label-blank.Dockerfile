# error: Dockerfile:3: LABEL names can not be blank
FROM alpine
LABEL ="x"
