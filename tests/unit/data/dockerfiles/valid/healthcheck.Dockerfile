FROM alpine
HEALTHCHECK NONE
HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]
HEALTHCHECK --interval=1h2m3.5s --timeout=0 --retries=0 cmd wget -q -O- localhost
