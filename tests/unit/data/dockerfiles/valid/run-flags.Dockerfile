FROM alpine
RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked pip install -r requirements.txt
RUN --mount=type=bind,source=src,target=/src,rw --mount=type=tmpfs,target=/tmp,size=64m make
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc,required --mount=type=ssh npm ci
RUN --mount=target=/in,from=builder,readonly ls /in
RUN --mount=type=cache,target=/var/cache/apt,mode=0755,uid=100,gid=101 --network=none --security=insecure apt-get update
RUN --network=host -- --not-a-flag
