FROM alpine
ARG NAME=world
RUN <<EOF
echo hello $NAME
apk add curl
EOF
RUN <<-EOT sh
	echo tabs stripped
		echo nested tab
	EOT
RUN <<'EOF'
echo "$HOME stays literal"
EOF
RUN <<FILE1 cat > /file1 && <<FILE2 cat > /file2
I am
first
FILE1
I am
second
FILE2
COPY <<EOF /greeting.txt
hello ${NAME} "quoted"
EOF
COPY <<"EOF" /literal.txt
hello ${NAME}
EOF
RUN python3 <<PY
print("hi")
PY
RUN echo "<<NOTHEREDOC"
