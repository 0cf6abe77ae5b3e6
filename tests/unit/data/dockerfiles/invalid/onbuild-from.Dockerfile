# error: Dockerfile:3: FROM isn't allowed as an ONBUILD trigger
FROM alpine
ONBUILD from busybox
