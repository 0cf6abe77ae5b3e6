# error: Dockerfile:3: unexpected end of statement while looking for matching double-quote
FROM alpine
ENV A="open
