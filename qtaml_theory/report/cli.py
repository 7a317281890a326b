"""What the package's command lines share: argument types, the output-folder check, atomic writes.

Used by ``python -m qtaml_theory.report`` and ``python -m qtaml_tac.experiments``:

* :func:`non_negative_int` is an ``argparse`` type (``--seed -1`` is refused
  by the parser, with the option's name);
* :func:`check_output_folder` refuses an output folder that cannot be written
  *before* any work, so that a long run never fails at its last step;
* :func:`write_atomically` writes a file through a temporary file and a rename
  (a failed run leaves no half-written file), with the permissions any tool
  gives a new file: ``0o666`` less the process's umask (``0o644`` under the
  usual umask ``022``).
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

__all__ = ["non_negative_int", "check_output_folder", "write_atomically"]


def non_negative_int(text):
    """``argparse`` type: a whole number at least 0 (for seeds).

    Raises
    ------
    argparse.ArgumentTypeError
        For anything else; the parser reports it with the option's name.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def check_output_folder(path, option="--out"):
    """Check that files can be written into the folder ``path`` (created later if missing); create nothing.

    ``path`` may not exist yet: then its nearest existing ancestor must be a
    folder the process may write in (:func:`os.access` with the effective ids,
    so a read-only file system counts as read-only).

    Parameters
    ----------
    path : str or os.PathLike
        The output folder.
    option : str
        How the error message names the folder (the command-line option).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        When ``path`` is a file, lies under a file, or cannot be written in.
    """
    path = Path(path)
    existing = path
    try:
        while not existing.exists():
            existing = existing.parent
    except OSError as error:
        raise ValueError(f"{option} {path} cannot be reached ({error}); choose another folder") from None
    if not existing.is_dir():
        where = "is a file" if existing == path else f"lies under {existing}, which is a file"
        raise ValueError(f"{option} {path} {where}: give a folder (it is created if missing)")
    effective = os.access in os.supports_effective_ids
    if not os.access(existing, os.W_OK | os.X_OK, effective_ids=effective):
        raise ValueError(f"{option} {path}: cannot write in {existing} (permission denied or a read-only file "
                         f"system); choose another folder")
    return path


def write_atomically(path, data):
    """Write ``data`` (str or bytes) to ``path`` through a temporary file and a rename.

    The temporary file is created next to ``path`` with mode ``0o666`` and the
    process's umask applies (as for any new file); on any error it is removed
    and ``path`` is left as it was. Missing parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            handle = os.open(temporary, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data if isinstance(data, bytes) else data.encode())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
