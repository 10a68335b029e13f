from crmpay.cli import main

main()
