process.stdout.write("demo: coming with the retry policy\n")
