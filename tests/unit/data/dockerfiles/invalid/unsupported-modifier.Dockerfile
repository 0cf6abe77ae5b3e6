# error: Dockerfile:3: unsupported modifier (!) in substitution
FROM alpine
USER ${A!}
