FROM alpine
RUN apk add --no-cache \
    # a comment inside the continuation is dropped
    curl \

    git \
#flush-left comment also dropped
    jq
RUN echo hello # this is not a comment, it goes to the shell
   RUN    echo indented   instruction   
LABEL a=b \
      c=d
COPY a \
     b \
     /dst/
