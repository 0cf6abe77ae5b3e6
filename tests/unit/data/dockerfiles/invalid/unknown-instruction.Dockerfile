# error: Dockerfile:3: unknown instruction: RUNN (did you mean RUN?)
FROM alpine
RUNN echo hi
