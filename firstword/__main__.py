from firstword.cli import main

main()
