# error: Dockerfile:3: Syntax error - can't find = in "c". Must be of the form: name=value
FROM alpine
ENV a=b c
