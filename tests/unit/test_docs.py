"""The docs site: generated reference pages match the code, code blocks parse, and the README
stays a short front page whose every link resolves."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def hack_docs(name: str) -> ModuleType:
    """A script of hack/docs/ as a module (hack/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"docs_{name}", ROOT / "hack" / "docs" / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


reference = hack_docs("reference")
blocks = hack_docs("blocks")


def test_the_generated_reference_pages_are_fresh() -> None:
    """A CRD, flag, metric or reason changed without regenerating its page fails here."""
    old = [str(p.relative_to(ROOT)) for p in reference.stale(reference.pages())]
    assert not old, f"stale docs pages {old}: regenerate with `{reference.REGENERATE}`"


def test_a_changed_schema_makes_the_api_page_stale(tmp_path: Path) -> None:
    page = tmp_path / "api.md"
    crds = reference.load_crds(ROOT / "crds")
    page.write_text(reference.api_page(crds))
    assert reference.stale({page: reference.api_page(crds)}) == []
    props = crds[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props["properties"]["newField"] = {"type": "string", "description": "a field nobody documented"}
    assert reference.stale({page: reference.api_page(crds)}) == [page]


def test_the_api_page_shows_type_default_enum_and_validation_of_a_field() -> None:
    page = reference.api_page(reference.load_crds(ROOT / "crds"))
    row = next(line for line in page.splitlines() if line.startswith("| `spec.syncInterval` |"))
    assert "| string | `5m` |" in row
    assert "rule `" in row and "30s" in row
    desired = next(line for line in page.splitlines() if line.startswith("| `spec.desiredState` |"))
    assert "`Active`, `Suspended`" in desired


def test_the_cli_page_has_every_subcommand_and_flag() -> None:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    for heading in ("`atlassian-operator run`", "`atlassian-operator simulate`",
                    "`kubectl atlassian report`", "`kubectl atlassian explain`"):  # fmt: skip
        assert f"# {heading}" in page
    assert "| `--allow-api-base-url` |" in page
    assert "SUPPRESS" not in page


def test_every_stalled_reason_is_explained_on_the_reasons_page() -> None:
    from atlassian_operator.core.conditions import STALLED_REASONS
    from atlassian_operator.core.reasons import CONDITION_REASONS

    assert set(CONDITION_REASONS) >= STALLED_REASONS
    assert all(CONDITION_REASONS[r][0] == "False" for r in STALLED_REASONS)


@pytest.mark.parametrize(
    ("language", "text", "complaint"),
    [
        ("sh", "kubectl create secret generic k --from-literal=api-key=<KEY>\n", "newline"),
        ("bash", "for ns in a b; do\n  echo $ns\n", "end of file"),
        ("console", "$ kubectl get aorg | \nNAME  READY\n", "end of file"),
        ("yaml", "spec:\n  orgId: acme\n   syncInterval: 5m\n", "mapping"),
        ("yaml", "a: 1\n---\nb: [\n", "flow"),
        ("json", '{"asOf": 1,}\n', "property name"),
    ],
)
def test_a_block_that_does_not_parse_is_named_with_its_line(
    tmp_path: Path, language: str, text: str, complaint: str
) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"# Page\n\nSome text.\n\n```{language}\n{text}```\n")
    [found] = blocks.problems([page])
    assert found.startswith(f"{page}:5: ```{language} block:")
    assert complaint in found


def test_console_output_and_unchecked_languages_pass(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ kubectl get aorg \\\n    -o wide\nNAME   READY (\n```\n\n"
        "- a list item:\n\n  ```sh\n  kubectl apply -k crds\n  ```\n\n"
        "```text\nif (\n```\n"
    )
    assert blocks.problems([page]) == []


def test_the_docs_and_the_readme_have_no_broken_block() -> None:
    assert blocks.problems(blocks.default_paths()) == []


def test_the_readme_is_a_front_page() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move detail into docs/"


def test_every_readme_link_resolves() -> None:
    """Relative links, so that they work on GitHub and in a checkout; anchors must exist."""
    text = README.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    broken = []
    for link in links:
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        target, _, anchor = link.partition("#")
        path = (ROOT / target) if target else README
        missing_anchor = path.exists() and path.suffix == ".md" and bool(anchor)
        if not path.exists() or (missing_anchor and anchor not in anchors(path.read_text())):
            broken.append(link)
    assert not broken, f"README.md links to what does not exist: {broken}"


def anchors(markdown: str) -> set[str]:
    """The ids MkDocs (and GitHub) give a page's headings: lower case, words joined by '-'."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
        found.add(re.sub(r"[\s]+", "-", slug))
    return found


def test_every_ready_reason_the_operator_writes_is_in_the_catalogue_the_page_is_made_from() -> None:
    """A new `Condition(READY, ...)` reason in the code, or one of the client's typed errors,
    fails here until CONDITION_REASONS (and so docs/reference/reasons.md) explains it."""
    from atlassian_operator.core import reasons

    sources = [p.read_text() for p in (ROOT / "operator" / "atlassian_operator").rglob("*.py")]
    constants = dict(
        match for text in sources for match in re.findall(r'(?m)^([A-Z_]+) = "(\w+)"', text)
    )
    written = {
        constants.get(word, word.strip('"'))
        for text in sources
        for word in re.findall(r"Condition\(\s*READY,\s*(?:True|False),\s*(\"\w+\"|[A-Z_]+)", text)
    }
    written |= {reason for _, reason in reasons._REASONS}
    assert {"InDesiredState", "LastActiveUnreadable", "IdentityChanged"} <= written  # it scans
    missing = sorted(w for w in written if w not in reasons.CONDITION_REASONS)
    assert not missing, f"Ready reasons not in core/reasons.py CONDITION_REASONS: {missing}"
