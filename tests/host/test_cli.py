"""The command line: one table of command modules, none of them silently missing."""

import pytest

from retrostep import cli


def test_every_command_module_registers_its_command():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {"simulate", "corpus", "replay", "eval", "chart", "demo",
                                "check", "report", "history", "export", "devices", "flash",
                                "deploy", "sync", "sim"}


def test_a_command_module_that_fails_to_import_is_an_error(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", {**cli.COMMANDS, "nope": "nope"})
    with pytest.raises(ModuleNotFoundError, match="retrostep.cli.nope"):
        cli.build_parser()
