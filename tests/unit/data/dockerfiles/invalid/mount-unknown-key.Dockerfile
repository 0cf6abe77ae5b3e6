# error: Dockerfile:3: unexpected key 'tgt' in 'tgt=/x'
FROM alpine
RUN --mount=type=cache,tgt=/x true
