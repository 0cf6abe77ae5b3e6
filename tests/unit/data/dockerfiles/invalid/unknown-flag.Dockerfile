# error: Dockerfile:4: unknown flag: --frm
FROM alpine AS builder
FROM alpine
COPY --frm=builder /a /b
