# error: Dockerfile:3: unterminated heredoc
FROM alpine
RUN <<EOF
echo never ends
EO
