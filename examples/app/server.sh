#!/bin/sh
# Serve the site with busybox httpd on :3000 (foreground); with "check" print what it serves and exit.
if [ "$1" = "check" ]; then
    httpd -p 127.0.0.1:3000 -h /app/www
    wget -q -O - http://127.0.0.1:3000/
    exit
fi
echo "serving /app/www on :3000 as $(id -un)"
exec httpd -f -p 3000 -h /app/www
