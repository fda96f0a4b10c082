"""The admin page: who has an account, whether sign-up is open, and question packs uploaded at run time."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from coach.bank.loader import BUILTIN_PACKS, build_packs, load_packs, pack_files, parse_yaml_text
from coach.errors import PackError
from coach.storage import repository
from coach.web.deps import SIGN_UP_SETTING, AdminDep, Services, ServicesDep
from coach.web.render import render

router = APIRouter(include_in_schema=False)
FLAGGED_SHOWN = 100


def _admin_context(services: Services, **extra: object) -> dict[str, object]:
    uploaded = sorted(services.packs_dir.glob("*.*")) if services.packs_dir.is_dir() else []
    context: dict[str, object] = {
        "users": repository.list_users(services.db),
        "signup_open": services.signup_open(),
        "uploaded": [p.name for p in uploaded],
        "packs": services.bank.packs,
        "pack_errors": [],
        "pack_accepted": None,
        # Grades users reported as wrong (LGPD Art. 20 review), newest first.
        "flagged": repository.list_flagged_attempts(services.db, limit=FLAGGED_SHOWN),
    }
    context.update(extra)
    return context


@router.get("/admin")
def admin_page(request: Request, services: ServicesDep, _admin: AdminDep) -> Response:
    return render(request, "admin.html", _admin_context(services))


@router.post("/admin/sign-up")
def set_sign_up(services: ServicesDep, _admin: AdminDep, open: Annotated[str, Form(max_length=5)]) -> Response:  # noqa: A002
    repository.set_app_setting(services.db, key=SIGN_UP_SETTING, value=open == "1")
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/packs")
async def upload_pack(request: Request, services: ServicesDep, _admin: AdminDep, pack: UploadFile) -> Response:
    # async only to read the upload; validation, the bank reload and the page's queries run in the thread pool.
    data = await pack.read()
    name = pack.filename or "pack.yaml"

    def accept() -> dict[str, object]:
        errors, accepted = _accept_pack(services, name, data)
        return _admin_context(services, pack_errors=errors, pack_accepted=accepted)

    context = await run_in_threadpool(accept)
    return render(request, "admin.html", context, status_code=422 if context["pack_errors"] else 201)


def _accept_pack(services: Services, filename: str, data: bytes) -> tuple[list[str], str | None]:
    """Validate an uploaded pack against the whole bank; keep it under HOME/packs when it loads cleanly."""
    name = Path(filename).name or "pack.yaml"
    suffix = Path(name).suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        return [f"{name}: upload a .yaml, .yml or .json pack (the format `coach bank validate` checks)."], None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return [f"{name}: not UTF-8 text (byte {error.start}); save the pack as UTF-8."], None
    try:
        parsed = json.loads(text) if suffix == ".json" else parse_yaml_text(text, name)
        stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in Path(name).stem.lower()).strip("-.") or "pack"
        packs = build_packs(parsed, name, stem)
    except json.JSONDecodeError as error:
        return [f"{name}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}."], None
    except PackError as error:
        return error.message.splitlines(), None
    target = services.packs_dir / f"{packs[0].id}{suffix}"
    services.packs_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / name
        candidate.write_text(text, encoding="utf-8")
        # Every other pack as it is now, minus the file this upload replaces, plus the candidate: clashing
        # question ids are reported here, before anything is written.
        others = [p for p in pack_files([services.packs_dir]) if p.resolve() != target.resolve()]
        try:
            load_packs([BUILTIN_PACKS, *services.settings.extra_pack_dirs(), *others, candidate])
        except PackError as error:
            return error.message.replace(str(candidate), name).splitlines(), None
    partial = target.with_name(f".{target.name}.part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
    services.reload_bank()
    count = sum(len(p.questions) for p in packs)
    return [], f"{name}: {count} question(s) in pack {', '.join(p.id for p in packs)} added to the bank."
