"""Credentials as export lines: which fields, how they are quoted, how the file is written."""

from __future__ import annotations

import os
import subprocess

import pytest

from balancecli.brokers.etna import Etna
from balancecli.brokers.longport.broker import LongPort
from balancecli.brokers.tradestation.broker import TradeStation
from balancecli.core.errors import ConfigError
from balancecli.credentials import env_suffices, envfile


def test_a_token_renewed_every_run_is_left_out():
    spec = TradeStation.secret_spec({})
    item = {"access_token": "at", "access_token_expires_at": 5, "refresh_token": "rt",
            "client_id": "id", "client_secret": "s3"}
    assert envfile.fields_to_write(spec, item) == ["REFRESH_TOKEN", "CLIENT_ID",
                                                   "CLIENT_SECRET"]
    etna = Etna.secret_spec({})
    assert envfile.fields_to_write(etna, {"app_key": "k", "username": "u", "password": "p",
                                          "token": "t", "token_expires_at": 9}) == [
        "APP_KEY", "USERNAME", "PASSWORD"]


def test_a_token_that_is_the_credential_stays_with_its_expiry():
    spec = LongPort.secret_spec({"auth": "apikey"})
    item = {"app_key": "k", "app_secret": "s", "access_token": "t",
            "access_token_expires_at": 1800000000}
    assert envfile.fields_to_write(spec, item) == ["APP_KEY", "APP_SECRET", "ACCESS_TOKEN",
                                                   "ACCESS_TOKEN_EXPIRES_AT"]


def test_the_lines_make_the_profile_complete_and_survive_a_shell(tmp_path):
    spec = Etna.secret_spec({})
    item = {"app_key": "k", "username": "u", "password": "it's $HOME `x`"}
    lines = envfile.export_lines("my-etna", spec, item)
    assert lines[0] == "export BALANCECLI_MY_ETNA_APP_KEY=k"
    path = tmp_path / "e.env"
    envfile.write(path, "my-etna", spec, lines)
    shown = subprocess.run(["sh", "-c", f". {path} && printf %s \"$BALANCECLI_MY_ETNA_PASSWORD\""],
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert shown.stdout == "it's $HOME `x`"
    env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert env_suffices("my-etna", spec, env)


def test_the_file_is_private_and_keeps_every_other_line(tmp_path):
    spec = Etna.secret_spec({})
    path = tmp_path / "dir" / "all.env"
    path.parent.mkdir()
    path.write_text("# mine\nexport BALANCECLI_ETNA_PASSWORD=old\nBALANCECLI_ETNA_X_PASSWORD=o\n"
                    "export PATH=/bin\n")
    path.chmod(0o644)
    envfile.write(path, "etna", spec, ["export BALANCECLI_ETNA_PASSWORD=new"])
    assert path.read_text() == ("# mine\nBALANCECLI_ETNA_X_PASSWORD=o\nexport PATH=/bin\n"
                                "export BALANCECLI_ETNA_PASSWORD=new\n")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in path.parent.iterdir()] == ["all.env"]  # no temporary file left


@pytest.mark.parametrize("make", ["symlink", "directory", "fifo"])
def test_anything_but_a_regular_file_is_refused(tmp_path, make):
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    path = tmp_path / "e.env"
    {"symlink": lambda: path.symlink_to(target), "directory": lambda: path.mkdir(),
     "fifo": lambda: os.mkfifo(path)}[make]()
    with pytest.raises(ConfigError, match="nothing was written"):
        envfile.write(path, "etna", Etna.secret_spec({}), ["export BALANCECLI_ETNA_TOKEN=x"])
    assert target.read_text() == "keep\n"
