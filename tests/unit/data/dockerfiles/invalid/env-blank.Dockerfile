# error: Dockerfile:3: ENV names can not be blank
FROM alpine
ENV a=1 \
    b=2 \
    =3
