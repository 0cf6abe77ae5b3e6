FROM alpine
ARG SET=value
ARG EMPTY=
ARG FROMBUILD
ENV plain=$SET braces=${SET} suffix=${SET}_x
ENV d1=${UNSET:-dflt} d2=${EMPTY:-dflt} d3=${EMPTY-dflt} d4=${UNSET-dflt}
ENV a1=${SET:+alt} a2=${EMPTY:+alt} a3=${EMPTY+alt} a4=${UNSET+alt}
ENV esc=\$SET single='$SET' double="$SET and \$SET" nested=${UNSET:-${SET}}
ENV fromarg=$FROMBUILD mixed=a${SET}b"c d"'e f'
ENV trimmed=${SET#val} trimmed2=${SET%ue}
LABEL label=$SET
WORKDIR /srv/$SET
USER ${SET}
STOPSIGNAL ${UNSET:-SIGQUIT}
VOLUME /v/$SET
EXPOSE ${UNSET:-8080}
COPY $SET ${SET}.d /dst/$SET/
ADD $SET /add/
ONBUILD RUN echo $SET
RUN echo $SET
CMD echo $SET
