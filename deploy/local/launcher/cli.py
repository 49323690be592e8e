"""Command line: parse, run one command, turn every expected failure into a line and an exit code."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from deploy.local.launcher.commands.artifacts import cmd_artifacts
from deploy.local.launcher.commands.down import cmd_clean, cmd_down
from deploy.local.launcher.commands.env import cmd_env
from deploy.local.launcher.commands.status import cmd_status
from deploy.local.launcher.commands.up import cmd_up
from deploy.local.launcher.errors import EXIT_FAILURE, EXIT_INTERRUPTED, LauncherError
from deploy.local.launcher.report import PREFIX
from deploy.local.launcher.servers import SERVER_NAMES
from deploy.local.launcher.settings import Settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 -m deploy.local.launcher",
        description="Start/stop a local Kafka broker and MongoDB-wire server for Carepath.",
        epilog="Settings (environment): CAREPATH_LOCAL_DIR, CAREPATH_CACHE_DIR, CAREPATH_KAFKA_PORT, "
        "CAREPATH_KAFKA_CONTROLLER_PORT, CAREPATH_MONGO_PORT, CAREPATH_KAFKA_PARTITIONS, "
        "CAREPATH_KAFKA_HEAP, CAREPATH_MONGO_BACKEND. See deploy/local/README.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start (or reuse) Kafka and the MongoDB server and wait until ready")
    up.add_argument("--reset", action="store_true", help="stop and wipe all data first (caches are kept)")
    down = commands.add_parser("down", help="stop what `up` started")
    down.add_argument(
        "servers", nargs="*", metavar="server", help=f"only these ({', '.join(SERVER_NAMES)}); default: both"
    )
    commands.add_parser("status", help="show what serves (exit 0 if both are usable, 3 otherwise)")
    env = commands.add_parser("env", help="print KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI lines")
    env.add_argument("--export", action="store_true", help="prefix the lines with `export `")
    commands.add_parser("clean", help="stop and wipe all data (caches are kept)")
    commands.add_parser(
        "artifacts", help="make the Kafka jars and FerretDB binary if missing; print their paths"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(getattr(args, "servers", ())) - set(SERVER_NAMES))
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(SERVER_NAMES)}")
    return args


def dispatch(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    if args.command == "up":
        return cmd_up(settings, args.reset)
    if args.command == "down":
        return cmd_down(settings, args.servers or SERVER_NAMES)
    if args.command == "status":
        return cmd_status(settings)
    if args.command == "env":
        return cmd_env(settings, args.export)
    if args.command == "artifacts":
        return cmd_artifacts(settings)
    return cmd_clean(settings)


def interrupt_on_sigterm(signum: int, frame: object) -> None:
    """A CI timeout's SIGTERM unwinds like Ctrl-C, so `up` stops the servers it half-started."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    try:
        return dispatch(args)
    except LauncherError as error:
        print(f"{PREFIX}{error}", file=sys.stderr)
        if error.details:
            print(error.details, file=sys.stderr)
        return error.exit_code
    except OSError as error:  # e.g. an unwritable state directory: one line, not a traceback
        print(f"{PREFIX}{error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"{PREFIX}interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
