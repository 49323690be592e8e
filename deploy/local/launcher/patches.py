"""A strict applier of committed unified diffs, so patching needs neither `patch` nor git.

Strict on purpose: every hunk's old lines must occur exactly once in the file, so a patch
written for one release never half-applies to another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.launcher.errors import LauncherError

HUNK_HEADER = re.compile(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


class PatchError(LauncherError):
    """The patch does not apply (the patched source changed, or the patch is malformed)."""


@dataclass(frozen=True)
class Hunk:
    old: str
    new: str


@dataclass
class FilePatch:
    path: str  # relative to the patched tree, without the a/ or b/ prefix
    hunks: list[Hunk] = field(default_factory=list)


def parse_unified_diff(diff: str) -> list[FilePatch]:
    """Files and hunks of a unified diff; text before the first `---` line is commentary."""
    files: list[FilePatch] = []
    lines = diff.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("+++ "):
            path = line[4:].split("\t")[0].strip()
            files.append(FilePatch(path[2:] if path.startswith("b/") else path))
        elif line.startswith("@@") and files:
            hunk, index = parse_hunk(lines, index)
            files[-1].hunks.append(hunk)
        index += 1
    if not files or not all(patch.hunks for patch in files):
        raise PatchError("the patch holds no file with a hunk")
    return files


def parse_hunk(lines: list[str], header: int) -> tuple[Hunk, int]:
    """One hunk from its `@@` header; returns it and the index of its last line."""
    found = HUNK_HEADER.match(lines[header])
    if found is None:
        raise PatchError(f"malformed hunk header: {lines[header].strip()}")
    old_count, new_count = int(found.group(1) or 1), int(found.group(2) or 1)
    old: list[str] = []
    new: list[str] = []
    index = header
    while len(old) < old_count or len(new) < new_count:
        index += 1
        if index >= len(lines):
            raise PatchError(f"hunk {lines[header].strip()} ends early")
        kind, content = lines[index][:1], lines[index][1:]
        if kind in (" ", "\n"):  # some editors strip the space of an empty context line
            old.append(content or "\n")
            new.append(content or "\n")
        elif kind == "-":
            old.append(content)
        elif kind == "+":
            new.append(content)
        elif kind != "\\":  # "\ No newline at end of file"
            raise PatchError(f"unexpected line in hunk {lines[header].strip()}: {lines[index]!r}")
    if not old:
        raise PatchError(f"hunk {lines[header].strip()} has no context to anchor it")
    return Hunk("".join(old), "".join(new)), index


def apply_unified_diff(diff: str, root: Path) -> list[Path]:
    """Apply every hunk under root; returns the files changed."""
    changed = []
    for patch in parse_unified_diff(diff):
        path = root / patch.path
        text = path.read_text(encoding="utf-8")
        for hunk in patch.hunks:
            text = apply_hunk(text, hunk, path)
        path.write_text(text, encoding="utf-8")
        changed.append(path)
    return changed


def apply_hunk(text: str, hunk: Hunk, path: Path) -> str:
    occurrences = text.count(hunk.old)
    if occurrences != 1:
        where = "nowhere" if occurrences == 0 else f"{occurrences} times"
        raise PatchError(f"a hunk of the patch matches {where} in {path}", hunk.old)
    return text.replace(hunk.old, hunk.new)
