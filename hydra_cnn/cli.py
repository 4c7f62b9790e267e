"""Command line of hydra_cnn: ``python -m hydra_cnn COMMAND ...`` (also the ``hydra-cnn`` script).

    python -m hydra_cnn list [GROUP]               # config options and the classes they build
    python -m hydra_cnn show gn                    # an option's typed config, as YAML
    python -m hydra_cnn zoo list [torchvision|open-mmlab|mmcls|deprecated ...] [--json]
    python -m hydra_cnn zoo url NAME            # torchvision://resnet50, or a bare name
    python -m hydra_cnn zoo download NAME       # into HOME/checkpoints, verified
    python -m hydra_cnn zoo verify [--delete [--yes]]   # re-hash the cached files

Each command family lives in an ``add_*_command(subparsers)`` function listed in
:data:`COMMANDS`; a new family (e.g. listing layer types) adds one more function. A command's
handler takes the parsed arguments and returns the exit status. Errors print one line naming
the bad value (exit status 1) instead of a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["COMMANDS", "add_layers_command", "add_zoo_command", "build_parser", "main"]

_ZOO_KINDS = ("open-mmlab", "torchvision", "mmcls", "deprecated")
_PREFIX = {"open-mmlab": "open-mmlab://", "torchvision": "torchvision://", "mmcls": "mmcls://",
           "deprecated": "open-mmlab://"}


def _resolve_name(name: str, zoo: str | None) -> tuple[str, str]:
    """Return ``(qualified name, URL or path)`` for a zoo name, bare or ``scheme://NAME``."""
    from hydra_cnn.checkpoint.zoo import ZOO_SCHEMES, list_zoo, normalize_zoo, zoo_url
    from hydra_cnn.common import ConfigKeyError

    if name.startswith(("http://", "https://")):
        return name, name
    if any(name.startswith(p) for p in ZOO_SCHEMES):
        return name, zoo_url(name, zoo)
    overrides = normalize_zoo(zoo)
    hits = []
    known: list[str] = []
    for kind in ("open-mmlab", "torchvision", "mmcls"):
        names = list_zoo(kind)
        known.extend(names)
        if name in names or name in overrides:
            hits.append(_PREFIX[kind] + name)
    if name in list_zoo("deprecated") and not hits:
        hits.append("open-mmlab://" + name)
    if len(hits) > 1 and name not in overrides:
        raise ValueError(f"{name!r} is in several zoos: {', '.join(hits)}; pass one of these")
    if not hits:
        close = difflib.get_close_matches(name, sorted(set(known)), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ConfigKeyError(f"unknown zoo name {name!r}.{hint} List the names with "
                             f"`python -m hydra_cnn zoo list`")
    return hits[0], zoo_url(hits[0], zoo)


def _cmd_zoo_list(args: argparse.Namespace) -> int:
    from hydra_cnn.checkpoint.zoo import list_zoo

    kinds = args.kinds or list(_ZOO_KINDS)
    for kind in kinds:
        if kind not in _ZOO_KINDS:
            raise ValueError(f"unknown zoo {kind!r}; accepted: {', '.join(_ZOO_KINDS)}")
    maps = {kind: list_zoo(kind) for kind in kinds}
    if args.json:
        print(json.dumps(maps, indent=2))
        return 0
    for kind, entries in maps.items():
        print(f"# {kind} ({len(entries)})")
        width = max((len(_PREFIX[kind]) + len(k) for k in entries), default=0)
        for key, value in entries.items():
            shown = f"-> {_PREFIX[kind]}{value}" if kind == "deprecated" else value
            print(f"{_PREFIX[kind] + key:<{width}}  {shown}")
    return 0


def _cmd_zoo_url(args: argparse.Namespace) -> int:
    _, target = _resolve_name(args.name, args.zoo)
    print(target)
    return 0


def _cmd_zoo_download(args: argparse.Namespace) -> int:
    from hydra_cnn.checkpoint.download import download_checkpoint

    qualified, target = _resolve_name(args.name, args.zoo)
    if not target.startswith(("http://", "https://")):
        if os.path.isdir(target):
            raise IsADirectoryError(f"{qualified} maps to {target}, which is a directory, not "
                                    f"a checkpoint file")
        if not os.path.isfile(target):
            raise FileNotFoundError(f"{qualified} maps to the local file {target}, which does "
                                    f"not exist")
        print(target)
        return 0
    print(download_checkpoint(target, args.cache_dir))
    return 0


def _verify_entry(folder: Path, name: str, record: Any) -> tuple[str, str]:
    """(status, detail) of one indexed file: OK, CORRUPT, MISSING or BAD RECORD."""
    from hydra_cnn.checkpoint.cache import hash_prefix, sha256_file

    path = folder / name
    if record is None:
        return "BAD RECORD", "its index record is malformed; the file is left alone"
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return "NOT A FILE", "not a regular file; left alone"
    if not path.exists():
        return "MISSING", f"indexed (from {record.url}) but not in the folder"
    size = path.stat().st_size
    if size != record.size:
        return "CORRUPT", f"{size} bytes, the index recorded {record.size} (from {record.url})"
    digest = sha256_file(path)
    if digest != record.sha256:
        return "CORRUPT", (f"sha256 {digest}, the index recorded {record.sha256} (from "
                           f"{record.url})")
    prefix = hash_prefix(name)
    if prefix is not None and not digest.startswith(prefix):
        return "CORRUPT", f"sha256 {digest}, the name says {prefix}..."
    how = "verified by its name" if record.verified else "matches its index record (no hash " \
                                                          "in the name)"
    return "OK", f"{digest} {how}; from {record.url}"


def _confirm(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:  # no terminal: never delete without --yes
        print()
        return False
    return answer.strip().lower() in ("y", "yes")


def _cmd_zoo_verify(args: argparse.Namespace) -> int:
    from hydra_cnn.checkpoint.cache import hash_prefix, sha256_file
    from hydra_cnn.checkpoint.index import INDEX_DIR, is_cache_dir, records, remove_record
    from hydra_cnn.checkpoint.zoo import get_cache_dir

    folder = Path(args.cache_dir) if args.cache_dir else get_cache_dir()
    if not folder.is_dir():
        if args.cache_dir:  # a folder the user named: a typo must not look like a clean cache
            what = "is not a folder" if folder.exists() else "does not exist"
            print(f"error: --cache-dir {folder} {what}; nothing was verified", file=sys.stderr)
            return 2
        print(f"no cache folder at {folder} (nothing downloaded yet)")
        return 0
    indexed = records(folder) if is_cache_dir(folder) else {}
    counts = {"OK": 0, "CORRUPT": 0, "MISSING": 0, "NOT INDEXED": 0, "BAD RECORD": 0,
              "NOT A FILE": 0}
    doomed: list[tuple[str, bool]] = []  # (name, whether the file itself goes)
    for name, record in indexed.items():
        status, detail = _verify_entry(folder, name, record)
        counts[status] += 1
        print(f"{status:<12} {name}  {detail}")
        if status in ("CORRUPT", "MISSING"):
            doomed.append((name, status == "CORRUPT"))
    for path in sorted(folder.iterdir()):
        if (path.name in indexed or path.name.startswith(".") or path.is_symlink()
                or not path.is_file() or path.name.endswith(".partial")):
            continue
        counts["NOT INDEXED"] += 1
        prefix = hash_prefix(path.name)
        if prefix is None:
            detail = "not downloaded by this cache (no index record); left alone"
        else:
            digest = sha256_file(path)
            match = "matches" if digest.startswith(prefix) else "does NOT match"
            detail = (f"no index record; its sha256 {digest} {match} the prefix {prefix} in "
                      f"its name; left alone")
        print(f"{'NOT INDEXED':<12} {path.name}  {detail}")
    print(f"{counts['OK']} ok, {counts['CORRUPT']} corrupt, {counts['MISSING']} missing, "
          f"{counts['NOT INDEXED']} not indexed in {folder}")
    if not args.delete:
        return 1 if counts["CORRUPT"] else 0
    if not is_cache_dir(folder):
        print(f"error: {folder} is not a hydra_cnn cache (it has no {INDEX_DIR} folder of "
              f"download records); nothing was deleted", file=sys.stderr)
        return 1
    if not doomed:
        print("nothing to delete")
        return 0
    files = sum(1 for _, f in doomed if f)
    question = (f"Delete {files} corrupt file(s) and {len(doomed)} index record(s) listed "
                f"above from {folder}?")
    if not args.yes and not _confirm(question):
        print("nothing was deleted (pass --yes to delete without asking)", file=sys.stderr)
        return 1
    for name, with_file in doomed:
        path = folder / name
        if with_file and path.is_file() and not path.is_symlink():
            path.unlink()
            print(f"deleted {path}")
        remove_record(folder, name)
    return 0


def add_zoo_command(subparsers: Any) -> None:
    """Add ``zoo list|url|download|verify`` to a CLI's subparsers.

    Args:
        subparsers: the object ``ArgumentParser.add_subparsers()`` returned.
    """
    zoo = subparsers.add_parser("zoo", help="model zoo names, downloads and the cache",
                                description="Model zoo names, downloads and the cache.")
    sub = zoo.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND", required=True)

    p = sub.add_parser("list", help="list zoo names and their URLs")
    p.add_argument("kinds", nargs="*", metavar="KIND",
                   help=f"zoos to list ({', '.join(_ZOO_KINDS)}); default all")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_zoo_list)

    for name, func, text in (("url", _cmd_zoo_url, "print the URL or path of a zoo name"),
                             ("download", _cmd_zoo_download,
                              "download a zoo name into the cache; print its path")):
        p = sub.add_parser(name, help=text)
        p.add_argument("name", help="torchvision://resnet50, open-mmlab://NAME, mmcls://NAME, "
                                    "a bare name found in one zoo, or an http(s) URL")
        p.add_argument("--zoo", default=None,
                       help="a JSON/YAML file of name -> URL or path overriding the zoos")
        if name == "download":
            p.add_argument("--cache-dir", default=None,
                           help="the cache folder; default HOME/checkpoints")
        p.set_defaults(func=func)

    p = sub.add_parser("verify", help="re-hash the cached checkpoints",
                       description="Re-hash the files of a download cache against its index "
                                   "(and the SHA256 prefix in their names). Files the index "
                                   "does not list are reported and never deleted.")
    p.add_argument("--cache-dir", default=None, help="default HOME/checkpoints")
    p.add_argument("--delete", action="store_true",
                   help="delete corrupt files the cache's index says it downloaded (asks "
                        "first)")
    p.add_argument("--yes", "-y", action="store_true", help="with --delete: do not ask")
    p.set_defaults(func=_cmd_zoo_verify)


def _cmd_list(args: argparse.Namespace) -> int:
    from hydra_cnn.common import did_you_mean
    from hydra_cnn.configs import option_table
    from hydra_cnn.registry import group_registry

    rows = [(g, o, c) for g, o, c in option_table() if not args.group or g == args.group]
    if not rows:
        groups = sorted({g for g, _, _ in option_table()})
        raise ValueError(f"unknown config group {args.group!r}; groups: {', '.join(groups)}."
                         + did_you_mean(args.group, groups))
    for group in sorted({g for g, _, _ in rows}):
        reg = group_registry(group)  # block options (ConvModule, ...): the plugin registry
        print(f"{group}  ({reg.name if reg is not None else '-'} registry)")
        for g, option, conf in rows:
            if g != group:
                continue
            type_name = getattr(conf, "type", "")
            cls = reg.get(type_name) if reg is not None and isinstance(type_name, str) else None
            where = f"{cls.__module__}.{cls.__qualname__}" if cls is not None else "-"
            print(f"  {option:<26} {type_name!s:<24} {where}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from hydra_cnn.common import closest_match
    from hydra_cnn.configs import option_table

    table = option_table()
    hits = [(g, o, c) for g, o, c in table
            if (o == args.name or getattr(c, "type", None) == args.name)
            and (not args.group or g == args.group)]
    if not hits:
        names = sorted({o for _, o, _ in table} | {str(getattr(c, "type", "")) for *_, c in table})
        hit = closest_match(args.name, names)
        raise ValueError(f"no option or type {args.name!r}" + (f"; did you mean {hit!r}?" if hit
                                                              else ""))
    for group, option, conf in hits:
        print(f"# {group}={option}  ({conf.__module__}.{conf.__qualname__})")
        print(OmegaConf.to_yaml(OmegaConf.structured(conf)))
    return 0


def add_layers_command(subparsers: Any) -> None:
    """``list [GROUP]`` and ``show NAME``: the config options and what they build."""
    p = subparsers.add_parser("list", help="list config groups, options and registered types")
    p.add_argument("group", nargs="?", help="only this group, e.g. layers/norm")
    p.set_defaults(func=_cmd_list)
    p = subparsers.add_parser("show", help="print an option's typed config as YAML")
    p.add_argument("name", help="an option (gn, leaky_relu) or a registry type (GN, LeakyReLU)")
    p.add_argument("--group", default=None, help="restrict to one group, e.g. layers/upsample")
    p.set_defaults(func=_cmd_show)


#: The command families of the CLI, each adding its subparser(s).
COMMANDS: list[Callable[[Any], None]] = [add_layers_command, add_zoo_command]


def build_parser() -> argparse.ArgumentParser:
    """Build the ``python -m hydra_cnn`` argument parser from :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="python -m hydra_cnn",
        description="hydra_cnn: mmcv's CNN bricks as typed Hydra configs.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Args:
        argv: the arguments (without the program name); default None reads ``sys.argv``.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `... | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (KeyError, ValueError, TypeError, OSError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
