from balancecli.cli import main

main()
