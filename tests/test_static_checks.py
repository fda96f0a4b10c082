"""Static checks (RELIABILITY S16): bandit at medium and above, the local semgrep rules, and the same rules in ast.

- bandit runs on every `make test` (it is a dev dependency). A finding counts as suppressed only when its line
  carries ruff's matching code with a reason, e.g. `# noqa: S608 - placeholders only` (ruff's S rules are
  bandit's, so one comment serves `make lint` and this test).
- semgrep cannot share the dev environment (semgrep 1.x pins an opentelemetry-api older than FastAPI needs),
  so `make tools` installs it into .venv-tools; the semgrep test runs when it is there and is skipped
  with that reason otherwise. The ast test below checks the same rules everywhere, always.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COACH = ROOT / "coach"
REASON = re.compile(r"(?:noqa|nosemgrep|nosec)[^#]*?\s[-–—]\s*\S.{3,}")


def python_files() -> list[Path]:
    return sorted(path for path in COACH.rglob("*.py") if "migrations" not in path.parts)


def line_of(path: Path, number: int) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""


def suppressed(path: Path, number: int, codes: tuple[str, ...]) -> bool:
    """The line (or a comment line just above) names the check it silences and why: `# noqa: S704 - <reason>`."""
    text = line_of(path, number)
    comment = text[text.find("#") :] if "#" in text else ""
    above = line_of(path, number - 1).strip()
    if above.startswith("#"):  # a comment line of its own just above, as semgrep also accepts
        comment += " " + above
    return any(code in comment for code in codes) and bool(REASON.search(comment))


# --- bandit -----------------------------------------------------------------------------------------


def test_s16_bandit_finds_nothing_at_medium_or_above_without_a_written_reason():
    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent)) or shutil.which("bandit")
    if bandit is None:
        pytest.fail("bandit is not installed: it is in the dev extra (pip install -e '.[dev]')")
    result = subprocess.run(
        [bandit, "-r", str(COACH), "-ll", "-q", "-f", "json", "-x", str(COACH / "storage" / "migrations")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    assert not report["errors"], report["errors"]
    open_findings, waived = [], []
    for item in report["results"]:
        path, number, test_id = Path(item["filename"]), item["line_number"], item["test_id"]
        ruff_code = "S" + test_id[1:]
        (waived if suppressed(path, number, (ruff_code, test_id)) else open_findings).append(
            f"{path.relative_to(ROOT)}:{number} {test_id} {item['issue_text']}"
        )
    assert open_findings == [], "bandit findings without a reason on the line:\n" + "\n".join(open_findings)
    print(f"S16: bandit -ll: 0 open findings, {len(waived)} waived with a reason on the line")


# --- semgrep (when installed) -----------------------------------------------------------------------


# The ruff (flake8-bandit) code that already documents a finding of each rule, so one comment serves both.
RUFF_CODES = {
    "markup-on-data": ("S704",),
    "sql-text-from-string-building": ("S608",),
    "unsafe-deserialisation": ("S506", "S301"),
    "tls-verification-off": ("S501",),
}


def semgrep_binary() -> str | None:
    for candidate in (ROOT / ".venv-tools" / "bin" / "semgrep", os.environ.get("COACH_SEMGREP", "")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return shutil.which("semgrep")


def test_s16_semgrep_local_rules_find_nothing_unexplained(tmp_path):
    semgrep = semgrep_binary()
    if semgrep is None:
        pytest.skip("semgrep is not installed (`make tools`); test_s16_ast_rules checks the same rules")
    env = {**os.environ, "SEMGREP_SEND_METRICS": "off", "SEMGREP_ENABLE_VERSION_CHECK": "0", "HOME": str(tmp_path)}
    result = subprocess.run(
        [
            semgrep,
            "scan",
            "--config",
            str(ROOT / "tests" / "semgrep"),
            "--metrics=off",
            "--json",
            "--quiet",
            str(COACH),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    report = json.loads(result.stdout)
    assert not [e for e in report.get("errors", []) if e.get("level") == "error"], report["errors"]
    open_findings, waived = [], []
    for item in report["results"]:
        path, rule = Path(item["path"]), item["check_id"].rsplit(".", 1)[-1]
        lines = range(item["start"]["line"], item["end"]["line"] + 1)
        codes = (rule, *RUFF_CODES.get(rule, ()))
        where = f"{path.relative_to(ROOT)}:{item['start']['line']} {rule}"
        (waived if any(suppressed(path, n, codes) for n in lines) else open_findings).append(where)
    assert open_findings == [], "semgrep findings without a reason (`# nosemgrep: <id> - <reason>`):\n" + "\n".join(
        open_findings
    )
    print(f"S16: semgrep (local rules): 0 open findings, {len(waived)} waived with a reason")


# --- the same rules with ast --------------------------------------------------------------------------


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def built_string(node: ast.AST) -> bool:
    """An f-string, `"..." % x`, `"...".format(...)` or `"..." + x`: SQL that was not parameterised."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return isinstance(node.left, ast.Constant | ast.JoinedStr)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


class RuleVisitor(ast.NodeVisitor):
    SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "_SafeLoader"}

    def __init__(self, path: Path) -> None:
        self.path = path
        self.findings: list[tuple[int, str, tuple[str, ...]]] = []
        self.route_depth = 0  # inside an `async def` route, not inside a nested function

    def add(self, node: ast.AST, rule: str, codes: tuple[str, ...]) -> None:
        self.findings.append((node.lineno, rule, (rule, *codes)))

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:  # noqa: N802
        is_route = any(
            isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and dotted(d.func.value).endswith("router")
            for d in node.decorator_list
        )
        self.route_depth += is_route
        self.generic_visit(node)
        self.route_depth -= is_route

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:  # noqa: N802
        saved, self.route_depth = self.route_depth, 0  # a nested def runs wherever it is called (thread pool)
        self.generic_visit(node)
        self.route_depth = saved

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        name = dotted(node.func)
        last = name.rsplit(".", 1)[-1]
        if last == "Markup":
            self.add(node, "markup-on-data", ("S704", "B704"))
        sql_call = name in ("text", "sqlalchemy.text", "sa.text") or last in ("exec_driver_sql", "execute")
        if sql_call and node.args and built_string(node.args[0]):
            self.add(node.args[0], "sql-text-from-string-building", ("S608", "B608"))
        if any(
            k.arg == "verify" and isinstance(k.value, ast.Constant) and k.value.value is False for k in node.keywords
        ):
            self.add(node, "tls-verification-off", ("S501", "B501"))
        if name in ("pickle.load", "pickle.loads", "yaml.unsafe_load"):
            self.add(node, "unsafe-deserialisation", ("S301", "B301"))
        if name == "yaml.load":
            loader = next((dotted(k.value) for k in node.keywords if k.arg == "Loader"), "")
            if loader.rsplit(".", 1)[-1] not in self.SAFE_LOADERS:
                self.add(node, "unsafe-deserialisation", ("S506", "B506"))
        if self.route_depth and (name.startswith("repository.") or last in ("embed", "grade")):
            self.add(node, "async-route-blocks-on-storage-or-model", ())
        self.generic_visit(node)


def test_s16_ast_rules_hold_in_every_module_and_template():
    open_findings, waived = [], []
    for path in python_files():
        visitor = RuleVisitor(path)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for number, rule, codes in visitor.findings:
            where = f"{path.relative_to(ROOT)}:{number} {rule}"
            (waived if suppressed(path, number, codes) else open_findings).append(where)
    for template in sorted((COACH / "web" / "templates").rglob("*.html")):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"\|\s*safe\b", line) or re.search(r"\{%-?\s*autoescape\s+false", line):
                open_findings.append(f"{template.relative_to(ROOT)}:{number} jinja-safe-filter")
    assert open_findings == [], "unsafe patterns without a reason on the line:\n" + "\n".join(open_findings)
    print(f"S16: ast rules: 0 open findings, {len(waived)} waived with a reason: {waived}")


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("from markupsafe import Markup\nMarkup(user_text)\n", "markup-on-data"),
        ("from sqlalchemy import text\ntext(f'SELECT * FROM t WHERE id = {x}')\n", "sql-text-from-string-building"),
        ("conn.exec_driver_sql('DROP %s' % name)\n", "sql-text-from-string-building"),
        ("httpx.get(url, verify=False)\n", "tls-verification-off"),
        ("import pickle\npickle.loads(blob)\n", "unsafe-deserialisation"),
        ("import yaml\nyaml.load(text, Loader=yaml.Loader)\n", "unsafe-deserialisation"),
        (
            "@router.get('/x')\nasync def x():\n    return repository.list_users(db)\n",
            "async-route-blocks-on-storage-or-model",
        ),
    ],
)
def test_s16_each_ast_rule_catches_its_pattern(tmp_path, source, rule):
    visitor = RuleVisitor(tmp_path / "example.py")
    visitor.visit(ast.parse(source))
    assert rule in {found[1] for found in visitor.findings}


def test_s16_ast_rules_pass_the_safe_forms():
    source = (
        "text('SELECT * FROM t WHERE id = :id')\n"
        "yaml.load(text, Loader=yaml.CSafeLoader)\n"
        "@router.get('/x')\nasync def x():\n    def work():\n        return repository.list_users(db)\n"
        "    return await run_in_threadpool(work)\n"
    )
    visitor = RuleVisitor(Path("example.py"))
    visitor.visit(ast.parse(source))
    assert visitor.findings == []
