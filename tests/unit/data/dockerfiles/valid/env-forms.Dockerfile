FROM alpine
ENV LEGACY some value with   spaces
ENV LEGACY2 "quoted legacy"
ENV k=v k2="v 2" k3=v\ 3 k4='single $quoted'
ENV EMPTY=
LABEL "com.example.vendor"="ACME Incorporated" multi.label="line one \
line two"
LABEL legacy label value
