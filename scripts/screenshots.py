"""Take screenshots of the main pages into docs/screenshots/ (headless Debian Chromium via Playwright).

    .venv/bin/python scripts/screenshots.py

Starts the app on a free loopback port with a throw-away home, signs up, practises one question and
captures what a person sees. Run it after changing pages, and look at the images.
"""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
QUESTION = "rai-pm-aif360-hiring-audit"
ANSWER = (
    "First I'd load the screening data into AIF360 as a BinaryLabelDataset, with 'advanced to interview' as "
    "the favourable label and sex and race as protected attributes, choosing privileged groups with legal "
    "counsel and adding race-by-sex intersections. Then I'd compute disparate impact on the historical labels: "
    "0.72 would fail the four-fifths rule. Next I'd score the model's predictions with ClassificationMetric "
    "and read average odds difference and equal opportunity difference. I'd show before-and-after charts to "
    "the hiring managers in plain language. Finally I'd try reweighing before training, re-measure fairness "
    "and accuracy on held-out data, and document which metric we prioritised and why."
)


def main() -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from coach.api import default_grader
    from coach.settings import Settings
    from coach.web.app import create_app
    from coach.settings import Settings

    OUT.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="coach-shots-"))
    grader = default_grader(Settings(home=home / "grader"))
    app = create_app(Settings(home=home / "app", password_hash_cost="test"), grader=grader)  # noqa: S106 - a cost profile, not a password
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(120_000)

        def shot(name: str) -> None:
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            print("wrote", OUT / f"{name}.png")

        page.goto(base + "/sign-up")
        shot("sign-up")
        page.fill("#display_name", "Ada")
        page.fill("#email", "ada@example.org")
        page.fill("#password", "correct horse battery staple")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r".*/\?welcome=1$"))
        shot("dashboard-new")
        page.goto(base + "/bank?role=responsible-ai-pm&category=workflow-tools")
        shot("bank")
        page.goto(f"{base}/bank/{QUESTION}")
        shot("question")
        page.goto(f"{base}/practice/{QUESTION}")
        page.fill("#answer", ANSWER)
        page.type("#answer", " ")
        page.wait_for_timeout(1500)
        shot("practice")
        page.click(".answer-form button[type=submit]")
        page.wait_for_selector(".score-card")
        shot("feedback")
        page.screenshot(path=str(OUT / "feedback-top.png"))  # the first screen, for the README
        page.goto(base + "/")
        shot("dashboard")
        page.goto(base + "/history")
        shot("history")
        page.goto(base + "/interviews/new")
        shot("interview-new")
        page.goto(base + "/account")
        shot("account")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
