"""The Examples section of each command's ``--help`` (one place; ``options.examples`` formats).

Every command has one (tests/e2e/test_cli.py checks); the data commands keep theirs in
``commands/data.py`` next to their options.
"""

from __future__ import annotations

from balancecli.cli.commands.options import examples

EXAMPLES = {
    "auth": examples("balancecli auth login ts", "balancecli auth status"),
    "auth login": examples(
        "balancecli auth login ts               # browser login, to the keyring",
        "balancecli auth login ts --no-browser  # over SSH: paste where it ends",
        "balancecli auth login etna             # asks for each field",
        "balancecli auth login lp -o ~/.config/balancecli/lp.env  # no keyring (cron)",
        "echo '{\"refresh_token\": \"...\"}' | balancecli auth login ts --with-token"),
    "auth status": examples("balancecli auth status", "balancecli auth status ts -f json"),
    "auth refresh": examples("balancecli auth refresh ts"),
    "auth logout": examples("balancecli auth logout ts",
                            "balancecli auth logout lp --revoke --yes"),
    "profile": examples("balancecli profile add ts --broker tradestation",
                        "balancecli profile set ts environment=sim",
                        "balancecli profile list"),
    "profile add": examples(
        "balancecli profile add ts --broker tradestation --set environment=sim",
        "balancecli profile add lp -b longport --set auth=apikey --set region=cn",
        "balancecli profile add qt -b quantower --set source=~/qt/export.json",
        "balancecli profile add ts -b tradestation --replace   # every setting anew"),
    "profile set": examples("balancecli profile set ts environment=sim",
                            "balancecli profile set ts api=v2 accounts=11223344,55667788"),
    "profile unset": examples("balancecli profile unset ts environment   # back to live"),
    "profile remove": examples("balancecli profile remove ts",
                               "balancecli profile remove ts --logout   # and its credentials"),
    "profile list": examples("balancecli profile list", "balancecli profile list -f json"),
    "profile show": examples("balancecli profile show ts", "balancecli profile show ts -f json"),
    "profile path": examples("balancecli profile path", '$EDITOR "$(balancecli profile path)"'),
    "rates": examples("balancecli rates update", "balancecli rates show --in USD"),
    "rates update": examples("balancecli rates update",
                             "balancecli rates update -f json | jq .latest"),
    "rates show": examples("balancecli rates show --in USD",
                           "balancecli rates show -f json | jq .rates"),
    "doctor": examples("balancecli doctor                 # every profile of the config",
                       "balancecli doctor -p ts -f json  # one profile, as JSON",
                       "balancecli --demo doctor         # the demo brokers"),
    "schema": examples(
        "balancecli schema",
        "balancecli schema balance > balance.schema.json",
        "balancecli balance -f json > balance.json",
        "check-jsonschema --schemafile balance.schema.json balance.json"),
}
