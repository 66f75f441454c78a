/* Home page: suites (with their leaderboards), recent evaluations and judges of the key's project. */
"use strict";

(() => {
  const { el, clear } = UI;
  const suiteSelect = document.getElementById("lb-suite");
  const judgeSelect = document.getElementById("lb-judge");
  const protocolSelect = document.getElementById("lb-protocol");

  const RECENT = 20;

  function showEvaluations(page) {
    const rows = clear(document.querySelector("#evaluations-table tbody"));
    for (const e of page.data) {
      const done = `${e.progress.done + e.progress.failed} of ${e.progress.total}`;
      rows.append(el("tr", {},
        el("th", { scope: "row" }, el("a", { href: `/ui/evaluations/${encodeURIComponent(e.id)}`, text: e.model,
                                             title: e.id })),
        el("td", { text: e.protocol }), el("td", { text: e.judge }), el("td", { text: e.suite || "–" }),
        el("td", { text: e.status }), el("td", { class: "num", text: done }),
        el("td", { text: e.metric ? UI.name(e.metric) : "–" }),
        el("td", { class: "num", text: `${UI.num(e.metric_value)} ${UI.interval(e.metric_ci95)}` }),
        el("td", { text: UI.date(e.created_at) })));
    }
    if (!page.data.length) {
      rows.append(el("tr", {}, el("td", { colspan: 9, text: "No evaluations yet (POST /v1/evaluations)." })));
    }
  }

  async function load() {
    const [suites, judges, evaluations] = await Promise.all(
      [UI.api("/v1/suites"), UI.api("/v1/judges"), UI.api(`/v1/evaluations?limit=${RECENT}`)]);
    showEvaluations(evaluations.data);
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

  UI.start(() => load().catch(UI.fail));
})();
