/* Home page: suites (with their leaderboards), the project's evaluations (filtered by status, model and tags,
 * in pages) and judges. */
"use strict";

(() => {
  const { el, clear } = UI;
  const suiteSelect = document.getElementById("lb-suite");
  const judgeSelect = document.getElementById("lb-judge");
  const protocolSelect = document.getElementById("lb-protocol");
  const filters = document.getElementById("ev-filters");
  const prevButton = document.getElementById("ev-prev");
  const nextButton = document.getElementById("ev-next");
  const pageText = document.getElementById("ev-page");
  const caption = document.getElementById("evaluations-caption");

  const PAGE = 20;
  // cursors[i] is the cursor of page i + 1 (null for the first page); next is the one after the shown page
  let cursors = [null];
  let next = null;

  /* The filter form's values as GET /v1/evaluations parameters: tags split on commas, one `tag` each. */
  function filterParams() {
    const query = new URLSearchParams();
    const status = document.getElementById("ev-status").value;
    const model = document.getElementById("ev-model").value.trim();
    if (status) query.set("status", status);
    if (model) query.set("model", model);
    for (const tag of document.getElementById("ev-tag").value.split(",").map((t) => t.trim()).filter(Boolean)) {
      query.append("tag", tag);
    }
    return query;
  }

  function tagsText(tags) {
    return Object.entries(tags || {}).map(([k, v]) => (v === "" ? k : `${k}=${v}`)).join(", ");
  }

  function showEvaluations(page) {
    const rows = clear(document.querySelector("#evaluations-table tbody"));
    for (const e of page.data) {
      const done = `${e.progress.done + e.progress.failed} of ${e.progress.total}`;
      rows.append(el("tr", { "data-evaluation": e.id },
        el("th", { scope: "row" }, el("a", { href: `/ui/evaluations/${encodeURIComponent(e.id)}`, text: e.model,
                                             title: e.id })),
        el("td", { text: e.protocol }), el("td", { text: e.judge }), el("td", { text: e.suite || "–" }),
        el("td", { text: e.status }), el("td", { class: "num", text: done }),
        el("td", { text: e.metric ? UI.name(e.metric) : "–" }),
        el("td", { class: "num", text: `${UI.num(e.metric_value)} ${UI.interval(e.metric_ci95)}` }),
        el("td", { class: "tags", text: tagsText(e.tags) }),
        el("td", { text: UI.date(e.created_at) })));
    }
    if (!page.data.length) {
      const filtered = [...filterParams().keys()].length > 0;
      rows.append(el("tr", {}, el("td", { colspan: 10,
        text: filtered ? "No evaluations match these filters." : "No evaluations yet (POST /v1/evaluations)." })));
    }
  }

  /* Page `index` (0-based) of the filtered list. */
  async function loadEvaluations(index) {
    const query = filterParams();
    query.set("limit", String(PAGE));
    if (cursors[index]) query.set("cursor", cursors[index]);
    const { data } = await UI.api(`/v1/evaluations?${query}`);
    showEvaluations(data);
    cursors = cursors.slice(0, index + 1);
    next = data.next_cursor;
    if (next) cursors.push(next);
    prevButton.disabled = index === 0;
    nextButton.disabled = !next;
    prevButton.dataset.page = String(index - 1);
    nextButton.dataset.page = String(index + 1);
    const filtered = [...filterParams().keys()].length > 0;
    pageText.textContent = `Page ${index + 1}` + (data.data.length ? `: ${data.data.length} evaluation(s)` : "");
    caption.textContent = `Evaluations (newest first${filtered ? ", filtered" : ""}), page ${index + 1}`;
  }

  async function load() {
    const [suites, judges] = await Promise.all([UI.api("/v1/suites"), UI.api("/v1/judges"), loadEvaluations(0)]);
    const suiteRows = clear(document.querySelector("#suites-table tbody"));
    clear(suiteSelect);
    for (const s of suites.data.data) {
      suiteSelect.append(el("option", { value: s.name, text: s.name }));
      suiteRows.append(el("tr", {},
        el("th", { scope: "row" }, el("a", { href: UI.leaderboardHref(s.name, protocolSelect.value), text: s.name })),
        el("td", { class: "num", text: s.version }), el("td", { class: "num", text: s.n_items }),
        el("td", { text: s.baseline_model || "–" }), el("td", { text: s.description || "" })));
    }
    if (!suites.data.data.length) {
      suiteRows.append(el("tr", {}, el("td", { colspan: 5, text: "No suites yet (POST /v1/suites)." })));
    }
    const judgeRows = clear(document.querySelector("#judges-table tbody"));
    clear(judgeSelect).append(el("option", { value: "", text: "(the only one)" }));
    for (const j of judges.data) {
      judgeSelect.append(el("option", { value: j.name, text: j.name }));
      judgeRows.append(el("tr", {}, el("th", { scope: "row", text: j.name }), el("td", { text: j.backend }),
        el("td", { text: j.model }), el("td", { class: "num", text: j.live_workers })));
    }
  }

  function turn(button) {
    const index = Number(button.dataset.page);
    loadEvaluations(index).then(() => {
      // keep the focus on a usable control when the pressed one became disabled
      (button.disabled ? (index === 0 ? nextButton : prevButton) : button).focus();
    }).catch(UI.fail);
  }
  prevButton.addEventListener("click", () => turn(prevButton));
  nextButton.addEventListener("click", () => turn(nextButton));

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = filterParams();
    history.replaceState(null, "", `/ui/${[...query.keys()].length ? `?${query}` : ""}`);
    cursors = [null];
    loadEvaluations(0).then(() => UI.say("Evaluations filtered.")).catch(UI.fail);
  });

  UI.start(() => load().catch(UI.fail));
})();
