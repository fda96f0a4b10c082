"""Imports flow one way (STYLE.md): shells -> interview/progress -> bank/grading/storage/providers."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "coach"

# For each core package, the coach modules it must never import.
FORBIDDEN = {
    "grading": (
        "coach.storage",
        "coach.web",
        "coach.cli",
        "coach.interview",
        "coach.progress",
        "coach.api",
        "coach.bank.loader",
        "coach.bank.search",
        "coach.providers",
        "coach.settings",
    ),
    "bank": (
        "coach.storage",
        "coach.web",
        "coach.cli",
        "coach.interview",
        "coach.progress",
        "coach.grading",
        "coach.api",
    ),
    "storage": ("coach.web", "coach.cli", "coach.interview", "coach.progress", "coach.grading", "coach.api"),
    # The LLM features are a pure core over a provider: no shells, no storage, no settings.
    "llm": ("coach.web", "coach.cli", "coach.storage", "coach.progress", "coach.api", "coach.settings"),
    "providers": ("coach.web", "coach.cli", "coach.storage", "coach.interview", "coach.progress", "coach.llm"),
}
# Third-party imports the grader may use: its embedder and numpy (torch only inside the optional backend).
GRADING_THIRD_PARTY = {
    "numpy",
    "safetensors",
    "tokenizers",
    "pydantic",
    "torch",
    "sentence_transformers",
    "onnxruntime",
    "transformers",  # only to export the ONNX graph once
    "platformdirs",
}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_core_packages_never_import_the_layers_above_them():
    offences = []
    for package, forbidden in FORBIDDEN.items():
        for path in (PACKAGE / package).rglob("*.py"):
            for name in _imports(path):
                if name.startswith(forbidden):
                    offences.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not offences, "\n".join(offences)


def test_the_grader_uses_only_the_standard_library_numpy_and_its_embedder():
    import sys

    stdlib = set(sys.stdlib_module_names)
    offences = []
    for path in (PACKAGE / "grading").rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in ("coach", "__future__") or top in stdlib or top in GRADING_THIRD_PARTY:
                continue
            offences.append(f"{path.name} imports {name}")
    assert not offences, "\n".join(offences)
