"""Stored/reflected XSS payloads for RELIABILITY S9 (parsed HTML) and S10 (headless Chromium).

Classic filter-evasion shapes (after the OWASP XSS Filter Evasion Cheat Sheet's categories: tag and
attribute breaking, case and whitespace tricks, entity and URL encodings, SVG and MathML, event handlers,
`javascript:` URLs) plus vectors aimed at this stack: htmx attributes that would fire requests by
themselves (`hx-get` + `hx-trigger=load`, `hx-on:*`), `</textarea>` to leave the answer box, and Jinja
syntax. Every payload that could run sets `window.__xss`, which the browser test watches. Written for this
project; none is copied from the list.

The default suite sends the whole corpus where one request carries many payloads (answers, the uploaded
pack, LLM feedback) and `CI_SAMPLE` where each payload costs requests of its own (drafts, display names,
reflected input, the browser's page loads): 18 payloads with at least one of every shape above. Set
COACH_FULL_CORPUS=1 to run every payload everywhere (do so before a release and after changing a template,
the sanitiser or htmx's configuration): `COACH_FULL_CORPUS=1 .venv/bin/python -m pytest tests/test_web_xss.py
tests/e2e/test_browser_xss.py`.
"""

from __future__ import annotations

import os

XSS_PAYLOADS = [
    "<script>window.__xss=1</script>",
    "<ScRiPt>window.__xss=2</sCrIpT>",
    "<script src=/static/app.js?x=1></script><script>window.__xss=3</script>",
    '<img src=x onerror="window.__xss=4">',
    "<img src=x onerror=window.__xss=5>",
    "<IMG SRC=x OnErRoR=window.__xss=6>",
    "<img src=x\tonerror=window.__xss=7>",
    '<img src="x" onerror="&#119;indow.__xss=8">',
    '"><img src=x onerror=window.__xss=9>',
    "'><img src=x onerror=window.__xss=10>",
    "<svg onload=window.__xss=11>",
    "<svg><script>window.__xss=12</script></svg>",
    "<svg><animate onbegin=window.__xss=13 attributeName=x dur=1s>",
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=14">',
    '<a href="javascript:window.__xss=15">click me</a>',
    '<a href="JaVaScRiPt:window.__xss=16">click</a>',
    '<a href="&#106;avascript:window.__xss=17">entity</a>',
    '<a href=" javascript:window.__xss=18">space</a>',
    '<iframe src="javascript:window.parent.__xss=19"></iframe>',
    "<iframe srcdoc='<script>parent.__xss=20</script>'></iframe>",
    '<object data="javascript:window.__xss=21"></object>',
    '<embed src="javascript:window.__xss=22">',
    "<body onload=window.__xss=23>",
    '<input autofocus onfocus="window.__xss=24">',
    '<details open ontoggle="window.__xss=25">',
    '<video><source onerror="window.__xss=26"></video>',
    "</textarea><script>window.__xss=27</script>",
    "</textarea><img src=x onerror=window.__xss=28>",
    "</title><script>window.__xss=29</script>",
    '<div hx-get="/account/delete" hx-trigger="load">htmx load</div>',
    '<div hx-post="/account/delete-data" hx-trigger="load" hx-vals=\'{"password":"x"}\'>htmx post</div>',
    '<button hx-on:click="window.__xss=32">hx-on</button>',
    '<div hx-on::load="window.__xss=33">hx-on load</div>',
    '<div data-hx-get="/sign-out" data-hx-trigger="load">data-hx</div>',
    '<form action="/account/delete"><button formaction="javascript:window.__xss=35">go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=36">',
    '<base href="https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<style>@import 'https://evil.example/x.css';</style>",
    '<p style="background:url(javascript:window.__xss=40)">style</p>',
    "{{ 7*7 }} {% for x in range(3) %}{{ x }}{% endfor %} ${7*7} #{7*7}",
    "%3Cscript%3Ewindow.__xss=42%3C/script%3E",
    "&lt;script&gt;window.__xss=43&lt;/script&gt;",
    "\u003cimg src=x onerror=window.__xss=44\u003e",
    "<!--<img src=x onerror=window.__xss=45>-->",
    "<![CDATA[<script>window.__xss=46</script>]]>",
    '<template><img src=x onerror="window.__xss=47"></template>',
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=48>">',
]

# One payload of each shape, by position in XSS_PAYLOADS (the number each sets in window.__xss is position+1):
CI_SAMPLE_POSITIONS = (
    0,  # <script>
    8,  # "> : leaves a double-quoted attribute
    9,  # '> : leaves a single-quoted attribute
    10,  # <svg onload>
    13,  # MathML/<style> namespace confusion (mutation XSS)
    14,  # javascript: URL
    19,  # <iframe srcdoc>
    23,  # autofocus + onfocus: fires with no click
    26,  # </textarea>: leaves the answer box
    28,  # </title>
    29,  # hx-get + hx-trigger=load
    31,  # hx-on:click
    33,  # data-hx-* prefix
    35,  # <meta http-equiv=refresh>
    36,  # <base href>
    40,  # Jinja/template syntax
    42,  # already-escaped entities (double unescaping)
    47,  # <noscript> parser differential
)
FULL_CORPUS = os.environ.get("COACH_FULL_CORPUS", "") not in ("", "0")
CI_SAMPLE = XSS_PAYLOADS if FULL_CORPUS else [XSS_PAYLOADS[i] for i in CI_SAMPLE_POSITIONS]
