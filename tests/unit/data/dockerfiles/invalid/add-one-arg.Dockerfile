# error: Dockerfile:3: ADD requires at least two arguments, but only one was provided. Destination could not be determined.
FROM alpine
ADD
