# error: Dockerfile:3: NEEDED: must be set
FROM alpine
LABEL x="${NEEDED:?must be set}"
