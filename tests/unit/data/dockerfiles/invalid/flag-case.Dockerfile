# error: Dockerfile:3: unknown flag: --FROM
FROM alpine
COPY --FROM=x a b
