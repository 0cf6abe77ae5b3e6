# error: Dockerfile:2: unknown instruction: FOOBAR
FOOBAR x
FROM alpine
