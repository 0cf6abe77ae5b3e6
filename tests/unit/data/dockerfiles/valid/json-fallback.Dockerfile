FROM alpine
CMD [ "echo", 1 ]
ENTRYPOINT ["unterminated"
RUN [not json]
CMD ["escaped \"quote\"", "tab\tand unicode \u00e9"]
ENTRYPOINT []
