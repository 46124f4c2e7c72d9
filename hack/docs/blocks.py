"""Check the syntax of every code block in the docs site and the README, as `make docs` does.

A reader copies these blocks into a shell or a file; one that does not parse fails them at the
first step. The rule per fence language:

- `sh`, `bash`, `shell`: the whole block is a command: `bash -n` must accept it.
- `console`: a session with its output. Only the lines after a `$ ` prompt are commands (with
  their `\\` continuations); they go through `bash -n`, the output lines are not checked.
- `yaml`, `yml`: PyYAML must load it, as a stream of documents (`---`).
- `json`: `json.loads` must accept it.
- anything else (`text`, `lua`, `promql`, no language): not checked.

    .venv/bin/python hack/docs/blocks.py [FILE.md ...]   # default: README.md and docs/**/*.md
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SHELLS = frozenset({"sh", "bash", "shell"})
#: A fence opens with up to any indent (a block inside a list item) and closes at the same one.
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.S | re.M
)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    text: str


def blocks(path: Path, text: str) -> Iterator[Block]:
    """Each fenced block of a Markdown text, dedented, with the line its fence opens on."""
    for match in _FENCE.finditer(text):
        indent = len(match["indent"])
        body = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        yield Block(path, text.count("\n", 0, match.start()) + 1, match["lang"].lower(), body)


def console_commands(session: str) -> str:
    """The commands of a console session: each `$ ` line and the lines it continues with `\\`."""
    commands: list[str] = []
    continuing = False
    for line in session.splitlines():
        if line.startswith("$ ") or continuing:
            commands.append(line[2:] if line.startswith("$ ") and not continuing else line)
            continuing = line.endswith("\\")
    return "\n".join(commands) + "\n"


def shell_error(script: str) -> str | None:
    """What `bash -n` says is wrong with a script, or None when it parses."""
    proc = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False)
    return proc.stderr.strip().replace("bash: ", "") or None if proc.returncode else None


def problem(block: Block) -> str | None:
    """Why a block would fail a reader who copies it, or None when it is fine (or unchecked)."""
    try:
        if block.language in SHELLS:
            return shell_error(block.text)
        if block.language == "console":
            return shell_error(console_commands(block.text))
        if block.language in ("yaml", "yml"):
            list(yaml.safe_load_all(block.text))
        elif block.language == "json":
            json.loads(block.text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        return " ".join(str(error).split())
    return None


def problems(paths: Sequence[Path]) -> list[str]:
    """One line per bad block: file, line of its fence, language and the parser's complaint."""
    found = []
    for path in paths:
        for block in blocks(path, path.read_text()):
            why = problem(block)
            if why:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.append(f"{where}:{block.line}: ```{block.language} block: {why}")
    return found


def default_paths() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    paths = [Path(a).resolve() for a in args] or default_paths()
    found = problems(paths)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(
            f"{len(found)} code block(s) do not parse; fix them (rules: hack/docs/blocks.py)",
            file=sys.stderr,
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
