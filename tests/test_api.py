"""The wired-up core: public API, shipped background vectors, documented settings."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import coach
from coach.api import SHIPPED_BACKGROUND, shipped_bank
from coach.grading.background import background_digest
from coach.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_background_matches_the_shipped_packs():
    # Editing a pack without `make background` would silently fall back to a slow first start.
    pairs = [(q.text, q.example_answer) for q in shipped_bank().questions]
    with np.load(SHIPPED_BACKGROUND, allow_pickle=False) as data:
        assert str(data["digest"]) == background_digest(pairs), "run `make background` after editing a pack"
        assert data["questions"].shape == (len(pairs), 384)
        assert np.allclose(np.linalg.norm(data["questions"], axis=1), 1.0, atol=1e-4)


def test_every_setting_is_documented():
    documented = set(re.findall(r"`COACH_([A-Z_]+)`", (ROOT / "docs" / "configuration.md").read_text()))
    for name in Settings.model_fields:
        assert name.upper() in documented, f"COACH_{name.upper()} is missing from docs/configuration.md"
        assert Settings.model_fields[name].description, f"setting {name} has no description"


def test_the_public_api_names_what_it_exports():
    for name in coach.__all__:
        assert hasattr(coach, name), name
