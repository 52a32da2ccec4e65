"""The backup commands of ``naikit``: ``naikit backup``, ``naikit restore DIR`` and ``naikit sanity-check``
(registered by :func:`register_cli`; the work is done by :mod:`naikit.novelai.backup` and
:mod:`naikit.novelai.restore` through the client)."""

from __future__ import annotations

import argparse
from typing import Any

from .._prompt import read_password as _password

__all__ = ["register_cli"]


def _client(args: argparse.Namespace) -> Any:
    from ..novelai.client import NovelAI

    kw: dict[str, Any] = {"email_case": args.email_case}
    if args.sandbox:
        kw["sandbox"] = True
    elif args.base_url:
        kw["base_url"] = args.base_url
    if args.email:
        kw.update(email=args.email, password=_password(args.password))
    return NovelAI(**kw)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--email", default=None, help="account email (else NAI_USERNAME / NAI_TOKEN, else the sandbox)"
    )
    p.add_argument("--password", default=None, help="omit or '-' to type it (or read it from stdin)")
    p.add_argument("--email-case", choices=["lower", "verbatim"], default="lower")
    p.add_argument("--base-url", default=None, help="one URL for all hosts (e.g. a `naikit serve` sandbox)")
    p.add_argument("--sandbox", action="store_true", help="use the embedded offline sandbox (demo account)")
    p.add_argument(
        "--backup-root", default=None, help="backups folder (default $NAIKIT_BACKUP_DIR or ~/.naikit/backups)"
    )


def _cmd_backup(args: argparse.Namespace) -> int:
    with _client(args) as nai:
        if args.backup_root:
            nai.set_backup_dir(args.backup_root)
        info = nai.backup(args.dir)
        print(f"{info!r}\n{info.path}")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    with _client(args) as nai:
        if args.backup_root:
            nai.set_backup_dir(args.backup_root)
        report = nai.restore(args.dir, overwrite=args.overwrite, skip_corrupt=args.skip_corrupt)
        print(repr(report))
        print(report.to_frame().to_string(index=False))
    return 0 if not {"failed", "refused"} & set(report.actions) else 1


def _cmd_sanity(args: argparse.Namespace) -> int:
    with _client(args) as nai:
        report = nai.sanity_check()
        print(report.summary())
    return 0 if report.ok else 1


def register_cli(subparsers: Any) -> None:
    """Add ``backup``, ``restore`` and ``sanity-check`` to the ``naikit`` command; returns None."""
    p = subparsers.add_parser("backup", help="download the keystore and every object into a folder")
    p.add_argument("dir", nargs="?", default=None, help="target folder (default: a new timestamped one)")
    _add_common(p)
    p.set_defaults(func=_cmd_backup)

    p = subparsers.add_parser("restore", help="put a backup folder back into the account")
    p.add_argument("dir", help="a folder written by `naikit backup` (or a before-overwrite copy)")
    p.add_argument("--overwrite", action="store_true", help="replace objects whose server copy differs")
    p.add_argument(
        "--skip-corrupt", action="store_true", help="restore the others when an object does not decrypt"
    )
    _add_common(p)
    p.set_defaults(func=_cmd_restore)

    p = subparsers.add_parser("sanity-check", help="report what decrypts and what is inconsistent")
    _add_common(p)
    p.set_defaults(func=_cmd_sanity)
