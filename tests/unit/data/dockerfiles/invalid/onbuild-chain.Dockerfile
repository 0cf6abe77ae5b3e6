# error: Dockerfile:3: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed
FROM alpine
ONBUILD ONBUILD RUN true
