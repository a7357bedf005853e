from balancecli.cli.app import main

main()
