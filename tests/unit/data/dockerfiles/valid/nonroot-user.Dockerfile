FROM alpine:3.19
RUN addgroup -S appgroup && adduser -S appuser -G appgroup
COPY --chown=appuser:appgroup app /home/appuser/app
USER appuser
WORKDIR /home/appuser
CMD ./app --serve
