from balancecli.cli.entry import main

main()
