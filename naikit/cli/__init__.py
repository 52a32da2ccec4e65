"""The ``naikit`` command: NovelAI credentials, the offline sandbox server, JupyterLab on the notebooks,
tokenizers and account backups."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence

from .._prompt import read_password

# Areas that add their own subcommands: each module has register_cli(subparsers).
_AREA_MODULES = ("naikit.tokenizers", "naikit.cli.backup")


def _cmd_access_key(args: argparse.Namespace) -> int:
    from ..novelai.auth import access_key

    print(access_key(args.email, read_password(args.password), email_case=args.email_case))
    return 0


def _cmd_access_token(args: argparse.Namespace) -> int:
    from ..novelai.client import NovelAI

    with NovelAI(base_url=args.base_url, sandbox=False, email_case=args.email_case) as nai:
        token = nai.login(args.email, read_password(args.password))
        print(token.value)
    return 0


def _email(text: str) -> str:
    """argparse type: one email address (one '@' with something on each side, no spaces, commas or
    semicolons). The value is not echoed: a swapped email and password would print the password."""
    local, at, domain = text.partition("@")
    bad = [f"{text.count('@')} '@'"] if text.count("@") != 1 else []
    bad += [f"a {name}" for ch, name in ((",", "comma"), (";", "semicolon"), (" ", "space")) if ch in text]
    if not text.isprintable():
        bad.append("control characters")
    if not bad and (not local or not domain):
        bad.append("nothing before or after the '@'")
    if bad:
        raise argparse.ArgumentTypeError(
            f"not one email address ({len(text)} characters with {', '.join(bad)}; the value is not shown "
            "in case it is the password): expected one address such as me@example.com"
        )
    return text


class _HelpFormatter(argparse.HelpFormatter):
    """Help that states each option's default (when it has one worth saying and the help does not)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or default in (None, False, argparse.SUPPRESS)
            or "default" in text.lower()
        ):
            return text
        return f"{text} (default: %(default)s)".lstrip()


# Python spellings in library messages and the option that says the same on the command line.
_CLI_TERMS = ((re.compile(r"email_case\s*=\s*['\"]?(lower|verbatim)['\"]?"), r"--email-case \1"),)


def _cli_terms(text: str) -> str:
    """Return ``text`` with Python keyword hints (``email_case='verbatim'``) put as the options that say
    the same (``--email-case verbatim``)."""
    for pattern, repl in _CLI_TERMS:
        text = pattern.sub(repl, text)
    return text


def _port_free(port: int) -> bool:
    """Return whether 127.0.0.1:``port`` can be listened on now (0 always can)."""
    import socket

    if port == 0:
        return True
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port(text: str) -> int:
    """argparse type: a TCP port number 0-65535 (0 picks a free one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def _data_dir(text: str) -> str:
    """argparse type: a folder for the sandbox's data (made if missing), not a file."""
    if not text.strip() or "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder name")
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    return text


def _cmd_serve(args: argparse.Namespace) -> int:
    from .. import sandbox

    sandbox.serve(
        host=args.host,
        port=args.port,
        data_dir=args.data,
        faults=args.faults,
        test_hooks=args.test_hooks,
        read_timeout=args.read_timeout,
    )
    return 0


def _cmd_lab(args: argparse.Namespace) -> int:
    import importlib.util
    import signal
    import subprocess

    from .. import sandbox

    if importlib.util.find_spec("jupyterlab") is None:
        print("naikit lab needs JupyterLab: pip install 'naikit[lab]'", file=sys.stderr)
        return 2
    notebooks = args.notebooks or _default_notebooks()
    if not _port_free(args.port):
        # Checked before starting anything: JupyterLab would otherwise print a page of log lines.
        print(
            f"naikit: port {args.port} is already in use: stop what listens there or pick another --port",
            file=sys.stderr,
        )
        return 1
    with sandbox.start(data_dir=args.data) as server:
        # The kernels find the sandbox and the demo account through the environment, so every notebook
        # shares one server (and its data) instead of starting its own.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "NOVITA_"))}
        env.update(
            NAI_BASE_URL=server.url,
            NAI_USERNAME=sandbox.DEMO_EMAIL,
            NAI_PASSWORD=sandbox.DEMO_PASSWORD,
            NOVITA_BASE_URL=server.url,
            NOVITA_API_KEY="naikit-demo-key",
        )
        print(f"naikit: sandbox at {server.url}; notebooks in {notebooks}", flush=True)
        cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks}"]
        cmd += [f"--ServerApp.port={args.port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0"]
        if args.no_browser:
            cmd.append("--no-browser")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # containers and Binder-like machines run as root
        extra = list(args.jupyter_args)
        if extra[:1] == ["--"]:
            extra = extra[1:]
        cmd += extra
        proc = subprocess.Popen(cmd, env=env)
        # Stopping naikit lab stops JupyterLab (and its kernels) before the sandbox goes: forward SIGTERM,
        # and turn Ctrl-C into a clean shutdown instead of Jupyter's interactive prompt.
        previous = signal.signal(signal.SIGTERM, lambda signum, _frame: proc.send_signal(signum))
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            return 130
        finally:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            signal.signal(signal.SIGTERM, previous)


def _default_notebooks() -> str:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidate = os.path.join(here, "notebooks")
    return candidate if os.path.isdir(candidate) else os.getcwd()


def _add_login_arguments(p: argparse.ArgumentParser) -> None:
    """Add the account arguments the commands that log in share (email, password, --email-case)."""
    p.add_argument("email", type=_email, help="the account's email address")
    p.add_argument("password", nargs="?", help="omit or '-' to type it (or read it from stdin)")
    p.add_argument(
        "--email-case",
        choices=["lower", "verbatim"],
        default="lower",
        help="'lower' hashes the email lower-cased, as the website does; 'verbatim' as typed",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``naikit`` command with every subcommand registered."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="naikit",
        description="NovelAI credentials, the offline sandbox server, JupyterLab on the notebooks, "
        "tokenizers and account backups.",
        epilog="Run `naikit COMMAND --help` for a command's options. Without NAI_TOKEN (or NAI_USERNAME and "
        "NAI_PASSWORD) in the environment, commands that need an account use the offline sandbox.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"naikit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    p = sub.add_parser("access-key", help="print the 64-character access key for EMAIL and PASSWORD")
    _add_login_arguments(p)
    p.set_defaults(func=_cmd_access_key)

    p = sub.add_parser("access-token", help="log in and print the access token")
    _add_login_arguments(p)
    p.add_argument("--base-url", default=None, help="one URL for all hosts (e.g. a `naikit serve` sandbox)")
    p.set_defaults(func=_cmd_access_token)

    p = sub.add_parser("serve", help="run the offline sandbox server in the foreground")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=_port, default=8765, help="TCP port (0 picks a free one)")
    p.add_argument("--data", type=_data_dir, default=None, help="directory for a persistent SQLite store")
    p.add_argument("--faults", default=None, help="e.g. '429=0.2,500=0.1,drop=0.05,retry_after=1,seed=7'")
    p.add_argument(
        "--test-hooks",
        action="store_true",
        help="open the /_sandbox/ endpoints (mail outbox, faults, knobs) to requests carrying the admin "
        "token printed at start; off by default, since the outbox holds account-recovery tokens",
    )
    p.add_argument(
        "--read-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="close connections that take longer to send a request's headers or body, or idle longer "
        "(default 60)",
    )
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("lab", help="start the sandbox and JupyterLab on the notebooks")
    p.add_argument("--port", type=_port, default=8888, help="JupyterLab's TCP port")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--data", type=_data_dir, default=None, help="keep the sandbox's data in this directory")
    p.add_argument("--notebooks", default=None, help="folder to open (default: the repo's notebooks/)")
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="after --: passed on to jupyter lab")
    p.set_defaults(func=_cmd_lab)

    for mod in _AREA_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:  # a missing dependency inside the module is a real error
                raise
            continue
        module.register_cli(sub)
    for command in sub.choices.values():
        # every option's help says its default, also for the commands the areas register
        command.formatter_class = _HelpFormatter
        for action in command._actions:
            if action.dest == "email" and action.type is None:
                action.type = _email  # one check of email addresses for every command that takes one
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``naikit`` command; return its exit code."""
    from ..errors import NaikitError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except NaikitError as exc:
        print(f"naikit: {_cli_terms(_one_line(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("naikit: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # files and sockets: a busy port, a file where a folder belongs, no permission
        print(f"naikit: {_os_error(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        # A command never ends in a traceback: one line says what failed; NAIKIT_DEBUG=1 shows the rest.
        if os.environ.get("NAIKIT_DEBUG"):
            raise
        print(
            f"naikit: {args.command} failed: {type(exc).__name__}: {_one_line(exc)} "
            "(set NAIKIT_DEBUG=1 to see where)",
            file=sys.stderr,
        )
        return 1


def _one_line(exc: BaseException) -> str:
    """Return the message of ``exc`` on one line (printable even with lone surrogates in it)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _os_error(exc: OSError) -> str:
    """Return one line for an OSError: what, where and, for the usual cases, what to do."""
    import errno

    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.EADDRINUSE:
        return f"the address is already in use{where}: stop what listens there or pick another --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on that address{where}: use --host 127.0.0.1 or an address of this machine"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"{exc.strerror or exc}{where}: a file is in the way of a folder"
    return _one_line(exc) if not exc.strerror else f"{exc.strerror}{where}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
