# error: Dockerfile:3: strconv.ParseInt: parsing "three": invalid syntax
FROM alpine
HEALTHCHECK --retries=three CMD true
