# error: Dockerfile:3: missing a value on flag: --from
FROM alpine
COPY --from a b
