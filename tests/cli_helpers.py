"""Helpers shared by the command-line tests."""

import pytest


def cli_error(main, argv, capsys):
    """Run a command line's ``main(argv)``; return its error message (exit status 2, nothing on stdout)."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    captured = capsys.readouterr()
    assert exit_.value.code == 2 and captured.out == ""
    return captured.err
