"""Server-rendered HTML shells of the web pages; their scripts fill them from the REST API.

Pure string building (no web framework), so the router stays thin. Every value put into a page
is HTML-escaped; data from the API is added by the scripts as text nodes only.
"""

from __future__ import annotations

from html import escape
from importlib import resources

from service.core.protocol import protocol_names

STATIC = resources.files("service.ui") / "static"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".svg": "image/svg+xml"}
# No inline script or style anywhere, and nothing from another origin.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-cache"}


def static_file(name: str) -> tuple[bytes, str] | None:
    """A file of static/ and its media type; None for anything else (no subfolders, no traversal)."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    suffix = name[name.rfind("."):] if "." in name else ""
    if suffix not in STATIC_TYPES:
        return None
    path = STATIC / name
    if not path.is_file():
        return None
    return path.read_bytes(), STATIC_TYPES[suffix]


def _attrs(data: dict[str, str | None]) -> str:
    return "".join(f' data-{escape(k)}="{escape(v)}"' for k, v in data.items() if v is not None)


def shell(title: str, page: str, body: str, data: dict[str, str | None] | None = None) -> str:
    """The common page: skip link, header with navigation and the API-key form, main, footer."""
    nav = [("/ui/", "Home", "home"), ("/ui/compare", "Compare runs", "compare"),
           ("/ui/analyses/rating-vs-ranking", "Rating vs ranking", "analysis"), ("/ui/reviews", "Review queue", "reviews")]
    current = ' aria-current="page"'
    links = "".join(
        f'<li><a href="{href}"{current if key == page else ""}>{label}</a></li>'
        for href, label, key in nav)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · judgeserve</title>
<link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/static/app.css">
<script src="/ui/static/ui.js" defer></script>
<script src="/ui/static/{escape(page)}.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
  <p class="brand"><a href="/ui/">judgeserve</a></p>
  <nav aria-label="Main"><ul>{links}</ul></nav>
  <section id="key-panel" class="key-panel" aria-labelledby="key-heading">
    <h2 id="key-heading" class="visually-hidden">Sign in with an API key</h2>
    <form id="key-form" hidden>
      <label for="api-key">API key</label>
      <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck="false" required
             aria-describedby="key-help">
      <button type="submit">Use key</button>
      <p id="key-help" class="help">Kept in this tab's session storage only; sent to this service's API.</p>
    </form>
    <p id="key-set" hidden>API key set. <button type="button" id="key-forget">Forget key</button></p>
  </section>
</header>
<main id="main" tabindex="-1" data-page="{escape(page)}"{_attrs(data or {})}>
<h1>{escape(title)}</h1>
<p id="status" class="status" role="status" aria-live="polite"></p>
<div id="error" class="error" role="alert" hidden></div>
{body}
</main>
<footer class="site"><p>judgeserve · <a href="/docs">API documentation</a></p></footer>
</body>
</html>
"""


STATUSES = ("queued", "running", "completed", "failed", "cancelled")


def _options(values: tuple[str, ...], selected: str | None, any_text: str) -> str:
    first = f'<option value="">{escape(any_text)}</option>'
    return first + "".join(f'<option value="{escape(v)}"{" selected" if v == selected else ""}>{escape(v)}</option>'
                           for v in values)


def compare_form(baseline: str | None = None, candidate: str | None = None, margin: str | None = None,
                 alpha: str | None = None) -> str:
    """The form that opens the comparison page (GET /ui/compare)."""
    ids = 'required pattern="[0-9A-Za-z\\-]{1,64}" autocomplete="off" spellcheck="false"'
    return f"""<form id="compare-form" class="inline-form" action="/ui/compare" method="get">
    <div class="field"><label for="cmp-baseline">Baseline evaluation id</label>
      <input id="cmp-baseline" name="baseline" value="{escape(baseline or '')}" {ids}></div>
    <div class="field"><label for="cmp-candidate">Candidate evaluation id</label>
      <input id="cmp-candidate" name="candidate" value="{escape(candidate or '')}" {ids}></div>
    <div class="field"><label for="cmp-margin">Margin</label>
      <input id="cmp-margin" name="margin" type="number" min="0" step="any" value="{escape(margin or '0')}"></div>
    <div class="field"><label for="cmp-alpha">Alpha</label>
      <input id="cmp-alpha" name="alpha" type="number" min="0.0001" max="0.9999" step="any"
             value="{escape(alpha or '0.05')}"></div>
    <button type="submit">Compare</button>
  </form>"""


def home(status: str | None = None, model: str | None = None, tags: str | None = None) -> str:
    options = "".join(f'<option value="{escape(p)}">{escape(p)}</option>' for p in protocol_names())
    status_options = _options(STATUSES, status, "any")
    body = f"""
<section aria-labelledby="lb-heading">
  <h2 id="lb-heading">Leaderboards</h2>
  <form id="leaderboard-form" class="inline-form" action="/ui/leaderboard" method="get">
    <div class="field"><label for="lb-suite">Suite</label>
      <select id="lb-suite" name="suite" required></select></div>
    <div class="field"><label for="lb-protocol">Protocol</label>
      <select id="lb-protocol" name="protocol">{options}</select></div>
    <div class="field"><label for="lb-judge">Judge</label>
      <select id="lb-judge" name="judge"><option value="">(the only one)</option></select></div>
    <button type="submit">Show leaderboard</button>
  </form>
  <div class="table-wrap" tabindex="0" role="region" aria-label="Suites table"><table id="suites-table">
    <caption>Suites (latest versions)</caption>
    <thead><tr><th scope="col">Suite</th><th scope="col">Version</th><th scope="col">Items</th>
      <th scope="col">Baseline model</th><th scope="col">Description</th></tr></thead>
    <tbody></tbody>
  </table></div>
</section>
<section aria-labelledby="ev-heading">
  <h2 id="ev-heading">Evaluations</h2>
  <form id="evaluation-form" class="inline-form" action="/ui/evaluation" method="get">
    <div class="field"><label for="ev-id">Evaluation id</label>
      <input id="ev-id" name="id" required pattern="[0-9A-Za-z\\-]{{1,64}}" autocomplete="off"></div>
    <button type="submit">Open evaluation</button>
  </form>
  <form id="ev-filters" class="inline-form" action="/ui/" method="get" role="search" aria-label="Filter evaluations">
    <div class="field"><label for="ev-status">Status</label>
      <select id="ev-status" name="status">{status_options}</select></div>
    <div class="field"><label for="ev-model">Model</label>
      <input id="ev-model" name="model" value="{escape(model or '')}" maxlength="256" autocomplete="off"></div>
    <div class="field"><label for="ev-tag">Tags</label>
      <input id="ev-tag" name="tag" value="{escape(tags or '')}" maxlength="1000" autocomplete="off" aria-describedby="ev-tag-help"
             placeholder="branch=main, release"></div>
    <button type="submit">Filter</button>
    <p id="ev-tag-help" class="help">Tags as <code>key=value</code> (or <code>key</code>: the tag is set), several
      separated by commas; every one must match.</p>
  </form>
  <div class="table-wrap" tabindex="0" role="region" aria-label="Evaluations table"><table id="evaluations-table">
    <caption id="evaluations-caption">Evaluations (newest first)</caption>
    <thead><tr><th scope="col">Model</th><th scope="col">Protocol</th><th scope="col">Judge</th>
      <th scope="col">Suite</th><th scope="col">Status</th><th scope="col">Items done</th>
      <th scope="col">Metric</th><th scope="col">Value</th><th scope="col">Tags</th><th scope="col">Created</th></tr></thead>
    <tbody></tbody>
  </table></div>
  <nav class="pager" aria-label="Evaluation pages">
    <button type="button" id="ev-prev" class="secondary" disabled>Previous page</button>
    <span id="ev-page" class="help" aria-live="polite"></span>
    <button type="button" id="ev-next" class="secondary" disabled>Next page</button>
  </nav>
</section>
<section aria-labelledby="cmp-heading">
  <h2 id="cmp-heading">Compare two runs</h2>
  {compare_form()}
</section>
<section aria-labelledby="judges-heading">
  <h2 id="judges-heading">Judges</h2>
  <div class="table-wrap" tabindex="0" role="region" aria-label="Judges table"><table id="judges-table">
    <caption>Configured judges and their live workers</caption>
    <thead><tr><th scope="col">Judge</th><th scope="col">Backend</th><th scope="col">Model</th>
      <th scope="col">Live workers</th></tr></thead>
    <tbody></tbody>
  </table></div>
</section>"""
    return shell("Evaluations, leaderboards and reviews", "home", body)


def leaderboard(suite: str, protocol: str, judge: str | None, runs: str) -> str:
    protocol_options = "".join(f'<option value="{escape(p)}"{" selected" if p == protocol else ""}>{escape(p)}</option>'
                               for p in dict.fromkeys([protocol, *protocol_names()]))
    judge_options = '<option value="">(the only one)</option>' + (
        f'<option value="{escape(judge)}" selected>{escape(judge)}</option>' if judge else "")
    body = f"""
<p class="context" id="lb-context"></p>
<form id="board-form" class="inline-form" method="get" aria-label="Choose the leaderboard">
  <div class="field"><label for="board-protocol">Protocol</label>
    <select id="board-protocol" name="protocol">{protocol_options}</select></div>
  <div class="field"><label for="board-judge">Judge</label>
    <select id="board-judge" name="judge">{judge_options}</select></div>
  <div class="field"><label for="runs">Runs</label>
    <select id="runs" name="runs">
      <option value="latest"{' selected' if runs == 'latest' else ''}>latest run per model</option>
      <option value="all"{' selected' if runs == 'all' else ''}>every run</option>
    </select></div>
  <button type="submit">Show</button>
  <button type="button" id="csv-download" class="secondary">Download CSV</button>
</form>
<div id="pickers-note" class="note" role="status" hidden></div>
<section aria-labelledby="chart-heading">
  <h2 id="chart-heading">Metric with 95% intervals</h2>
  <figure class="chart" id="chart"><figcaption id="chart-caption"></figcaption></figure>
</section>
<section aria-labelledby="table-heading">
  <h2 id="table-heading">Models</h2>
  <p class="help">Select a column heading to sort by it. A rank range runs from the best to the worst rank the
    intervals allow: models whose intervals overlap share ranks.</p>
  <div class="table-wrap" tabindex="0" role="region" aria-label="Models table (scrolls sideways on narrow screens)">
    <table id="leaderboard-table" class="sortable"><thead></thead><tbody></tbody></table>
  </div>
</section>
<p class="updated" id="updated"></p>"""
    return shell(f"Leaderboard: {suite}", "leaderboard", body,
                 {"suite": suite, "protocol": protocol, "judge": judge, "runs": runs})


def evaluation(evaluation_id: str) -> str:
    body = """
<section aria-labelledby="overview-heading">
  <h2 id="overview-heading">Overview</h2>
  <dl id="overview" class="facts"></dl>
  <div id="progress-box" class="progress-box">
    <label for="progress" id="progress-label">Progress</label>
    <progress id="progress" max="1" value="0"></progress>
    <span id="progress-text" class="progress-text"></span>
  </div>
  <p id="review-link" hidden></p>
</section>
<section aria-labelledby="summary-heading">
  <h2 id="summary-heading">Summary</h2>
  <div id="warnings" class="warnings" role="alert" hidden></div>
  <div id="headline" class="headline"></div>
  <dl id="summary" class="facts"></dl>
</section>
<section aria-labelledby="reliability-heading">
  <h2 id="reliability-heading">Judge reliability</h2>
  <dl id="reliability" class="facts"></dl>
  <figure class="chart" id="bpde-chart"><figcaption>BPDE histogram: items by the entropy of their judge
    calls' labels (0 = every call agrees)</figcaption></figure>
  <div id="agreement"></div>
</section>
<section aria-labelledby="items-heading">
  <h2 id="items-heading">Items</h2>
  <form id="filter-form" class="inline-form" role="search" aria-label="Filter items">
    <div class="field"><label for="filter-text">Item id or text</label>
      <input id="filter-text" type="search" autocomplete="off"></div>
    <div class="field"><label for="filter-outcome">Verdict</label>
      <select id="filter-outcome"><option value="">any</option></select></div>
    <div class="field"><label for="filter-flag">Flag</label>
      <select id="filter-flag">
        <option value="">any</option>
        <option value="position_inconsistent">position inconsistent</option>
        <option value="needs_review">needs review</option>
        <option value="reviewed">reviewed</option>
        <option value="unscored">unscored</option>
        <option value="failed">failed</option>
        <option value="pending">pending</option>
      </select></div>
  </form>
  <p id="items-count" class="help" aria-live="polite"></p>
  <div class="table-wrap" tabindex="0" role="region" aria-label="Items table (scrolls sideways on narrow screens)">
    <table id="items-table" class="items"><thead></thead><tbody></tbody></table>
  </div>
  <button type="button" id="more-items" hidden>Load more items</button>
</section>"""
    return shell("Evaluation", "evaluation", body, {"evaluation": evaluation_id})


def compare(baseline: str | None, candidate: str | None, margin: str | None, alpha: str | None) -> str:
    body = f"""
<section aria-labelledby="runs-heading">
  <h2 id="runs-heading" class="visually-hidden">The two runs</h2>
  {compare_form(baseline, candidate, margin, alpha)}
  <dl id="runs" class="facts"></dl>
</section>
<section aria-labelledby="gate-heading" id="gate-section" hidden>
  <h2 id="gate-heading">Paired difference and decision</h2>
  <div id="decision" class="headline"></div>
  <dl id="gate" class="facts"></dl>
  <p id="gate-rule" class="help"></p>
</section>
<section aria-labelledby="changed-heading" id="changed-section" hidden>
  <h2 id="changed-heading">Items whose outcome changed</h2>
  <form id="changed-filter" class="inline-form" role="search" aria-label="Filter changed items">
    <div class="field"><label for="changed-category">Category</label>
      <select id="changed-category"><option value="">every category</option></select></div>
    <div class="field"><label for="changed-direction">Change</label>
      <select id="changed-direction">
        <option value="">improved or regressed</option>
        <option value="improved">improved</option>
        <option value="regressed">regressed</option>
      </select></div>
  </form>
  <p id="changed-count" class="help" aria-live="polite"></p>
  <div class="table-wrap" tabindex="0" role="region" aria-label="Changed items table (scrolls sideways on narrow screens)">
    <table id="changed-table" class="items"><thead></thead><tbody></tbody></table>
  </div>
  <button type="button" id="more-changed" hidden>Load more items</button>
</section>"""
    return shell("Compare two runs", "compare", body,
                 {"baseline": baseline, "candidate": candidate, "margin": margin, "alpha": alpha})


def rating_vs_ranking(rating_x: str | None, rating_y: str | None, comparison: str | None) -> str:
    """Rating vs ranking: do X's and Y's scores imply the comparison's verdict? (POST /v1/analyses/rating-vs-ranking)"""
    ids = 'required pattern="[0-9A-Za-z\\-]{1,64}" autocomplete="off" spellcheck="false"'
    fields = (("rvr-x", "rating_x", "Evaluation scoring model X's responses", rating_x),
              ("rvr-y", "rating_y", "Evaluation scoring model Y's responses", rating_y),
              ("rvr-comparison", "comparison", "Evaluation comparing X (A) with Y (B)", comparison))
    inputs = "".join(f"""
    <div class="field"><label for="{key}">{label}</label>
      <input id="{key}" name="{name}" value="{escape(value or '')}" {ids}></div>""" for key, name, label, value in fields)
    body = f"""
<section aria-labelledby="runs-heading">
  <h2 id="runs-heading" class="visually-hidden">The three evaluations</h2>
  <form id="rvr-form" class="inline-form" action="/ui/analyses/rating-vs-ranking" method="get">{inputs}
    <button type="submit">Analyse</button>
  </form>
  <p class="help">Per item the scores imply a preference (the higher score wins; equal scores tie), set against the
    comparison's verdict. Ratings and rankings of the same pairs disagreed about 60% of the time in
    <cite>Peering Through Preferences</cite>, for humans and AI judges alike.</p>
</section>
<section aria-labelledby="agreement-heading" id="agreement-section" hidden>
  <h2 id="agreement-heading">Agreement</h2>
  <div id="agreement" class="headline"></div>
  <dl id="agreement-facts" class="facts"></dl>
  <ul id="rvr-warnings" class="warnings"></ul>
  <div class="table-wrap" tabindex="0" role="region" aria-label="Agreement matrix">
    <table id="matrix"><caption>Items by the scores' preference (rows) and the comparison's verdict
      (columns)</caption><thead></thead><tbody></tbody></table>
  </div>
</section>
<section aria-labelledby="disagree-heading" id="disagree-section" hidden>
  <h2 id="disagree-heading">Items that disagree</h2>
  <div class="table-wrap" tabindex="0" role="region" aria-label="Disagreeing items table (scrolls sideways on narrow screens)">
    <table id="disagreements"><thead></thead><tbody></tbody></table>
  </div>
</section>"""
    return shell("Rating vs ranking", "analysis", body,
                 {"scores-x": rating_x, "scores-y": rating_y, "comparison": comparison})


def reviews(evaluation_id: str | None, status: str) -> str:
    body = f"""
<form id="reviewer-form" class="inline-form" method="get">
  {f'<input type="hidden" name="evaluation_id" value="{escape(evaluation_id)}">' if evaluation_id else ''}
  <div class="field"><label for="reviewer">Your name (recorded with each label)</label>
    <input id="reviewer" name="reviewer-name" autocomplete="name" required maxlength="256"></div>
  <div class="field"><label for="review-status">Show</label>
    <select id="review-status" name="status">
      <option value="open"{' selected' if status == 'open' else ''}>open reviews</option>
      <option value="done"{' selected' if status == 'done' else ''}>done reviews</option>
    </select></div>
  <button type="submit">Apply</button>
</form>
<section id="metric-panel" aria-labelledby="metric-heading" hidden>
  <h2 id="metric-heading">Evaluation metric</h2>
  <div id="headline" class="headline" aria-live="polite"></div>
  <p id="metric-link"></p>
</section>
<section aria-labelledby="queue-heading">
  <h2 id="queue-heading">Items to review</h2>
  <p id="queue-count" class="help"></p>
  <div id="queue"></div>
  <button type="button" id="more-reviews" hidden>Load more reviews</button>
</section>"""
    title = "Review queue" + (" for one evaluation" if evaluation_id else "")
    return shell(title, "reviews", body, {"evaluation": evaluation_id, "status": status})
