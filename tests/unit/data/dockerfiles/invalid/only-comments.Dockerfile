# error: Dockerfile: file with no instructions
# nothing here

   # indented comment
