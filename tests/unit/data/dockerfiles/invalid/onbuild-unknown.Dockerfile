# error: Dockerfile:3: unknown instruction: CPY (did you mean COPY?)
FROM alpine
ONBUILD CPY a b
