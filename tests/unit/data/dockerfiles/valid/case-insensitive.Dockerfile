from alpine as Builder
run echo lower
Run echo mixed
copy --from=builder a b
