# error: Dockerfile: file with no instructions
