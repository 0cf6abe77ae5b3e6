# error: Dockerfile:2: invalid name for build stage: "1st", name can't start with a number or contain symbols
FROM alpine AS 1st
