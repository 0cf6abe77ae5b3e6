ARG BASE=alpine
ARG TAG=3.19
ARG PLATFORM_ARG
FROM ${BASE}:${TAG} AS first
ENV seen_outside="$TAG"
ARG TAG
ENV seen_inside=$TAG
ARG TARGETARCH
ARG TARGETPLATFORM
ENV arch=$TARGETARCH platform=$TARGETPLATFORM notdeclared=${BUILDOS:-unset}
ARG OVERRIDE=default
ENV override=$OVERRIDE
ARG SHADOW=from-arg
ENV SHADOW=from-env
ENV shadow_seen=$SHADOW
ARG a=1 b=$a c
FROM --platform=$BUILDPLATFORM first AS second
ENV inherited=$seen_inside
