/* Comparison page: the regression gate between two runs (POST /v1/comparisons: paired difference, interval,
 * p-value, decision) and the items whose outcome changed, both runs' responses side by side
 * (GET /v1/comparisons/items), filtered by category and direction. */
"use strict";

(() => {
  const { el, clear, num, interval, name } = UI;
  const { baseline, candidate, margin, alpha } = UI.main.dataset;
  const PAGE = 50;
  const table = document.getElementById("changed-table");
  const categorySelect = document.getElementById("changed-category");
  const directionSelect = document.getElementById("changed-direction");
  const moreButton = document.getElementById("more-changed");
  const countText = document.getElementById("changed-count");
  let spec = null;
  let runs = {};
  let cursor = null;
  let shown = 0;

  function runLink(evaluation, role) {
    return el("span", {}, el("a", { href: `/ui/evaluations/${encodeURIComponent(evaluation.id)}`, text: evaluation.model,
      "aria-label": `${role} run: ${evaluation.model} (evaluation ${evaluation.id})` }),
    el("span", { class: "help", text: ` · ${UI.date(evaluation.created_at)}` }));
  }

  function renderRuns(comparison) {
    const b = runs.baseline;
    const c = runs.candidate;
    document.querySelector("h1").textContent = `Compare ${c.model} with ${b.model}`;
    document.title = `Compare ${c.model} with ${b.model} · judgeserve`;
    UI.facts(document.getElementById("runs"), [
      ["Baseline", runLink(b, "Baseline")], ["Candidate", runLink(c, "Candidate")],
      ["Protocol", comparison.protocol], ["Judge", comparison.judge],
      ["Suite", comparison.suite ? el("a", { href: UI.leaderboardHref(comparison.suite, comparison.protocol, comparison.judge),
        text: `${comparison.suite} (leaderboard)` }) : "–"],
    ]);
  }

  function renderGate(g) {
    const passed = g.decision === "pass";
    clear(document.getElementById("decision")).append(
      el("span", { class: `badge ${passed ? "good" : "bad"} decision`, id: "gate-decision",
        text: passed ? "Gate passed" : "Gate failed" }), " ",
      el("span", { class: "metric-name", text: `${name(g.metric)} difference (candidate − baseline) ` }),
      el("span", { class: "value", "data-difference": g.difference, text: `${g.difference >= 0 ? "+" : ""}${num(g.difference)}` }),
      " ", el("span", { class: "ci", text: `95% interval ${interval(g.difference_ci95)}, p = ${num(g.p_value, 4)}` }),
    );
    const changed = g.n_changed === undefined || g.n_changed === null ? "–"
      : `${g.n_changed} (${g.n_improved} improved, ${g.n_regressed} regressed)`;
    UI.facts(document.getElementById("gate"), [
      ["Shared items", num(g.n_shared)], [`Baseline ${name(g.metric)}`, num(g.mean_baseline)],
      [`Candidate ${name(g.metric)}`, num(g.mean_candidate)], ["Difference", num(g.difference)],
      ["95% interval", interval(g.difference_ci95)], ["p-value", `${num(g.p_value, 4)} (${g.test})`],
      ["Margin", num(g.margin)], ["Alpha", num(g.alpha)], ["Items changed", changed],
    ]);
    document.getElementById("gate-rule").textContent = `Decision rule (${g.decision_rule}): ${g.rule}.`;
    document.getElementById("gate-section").hidden = false;
  }

  function responseBlock(value) {
    if (value === null || value === undefined || value === "") return el("p", { class: "help", text: "no response" });
    return el("div", { class: "text-block", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) });
  }

  function runCell(result) {
    const verdict = [result.outcome ? `outcome ${result.outcome}` : null, `value ${num(result.value)}`]
      .filter(Boolean).join(" · ");
    return el("div", { class: "run" }, el("div", { class: "label", text: verdict }), responseBlock(result.response));
  }

  function itemCell(row) {
    const cell = el("div", {}, el("span", { class: "item-id", text: row.item_id }));
    if (row.category) cell.append(el("div", { class: "help", text: row.category }));
    const context = UI.itemContext(row.item || {}, spec);
    if (context.childNodes.length) cell.append(el("details", {}, el("summary", { text: "Item" }), context));
    return cell;
  }

  function changeCell(row) {
    const improved = row.change === "improved";
    return el("div", {}, el("span", { class: `badge ${improved ? "good" : "bad"}`, text: row.change }),
      el("div", { class: "num", text: `Δ ${row.difference >= 0 ? "+" : ""}${num(row.difference)}` }));
  }

  function renderHead() {
    clear(table.tHead).append(el("tr", {},
      el("th", { scope: "col", text: "Item" }), el("th", { scope: "col", text: "Change" }),
      el("th", { scope: "col", text: `Baseline: ${runs.baseline.model}` }),
      el("th", { scope: "col", text: `Candidate: ${runs.candidate.model}` })));
  }

  function fillCategories(categories) {
    const current = categorySelect.value;
    clear(categorySelect).append(el("option", { value: "", text: "every category" }));
    // values are "cat:" + the category, so that items without a category ("cat:") differ from every category ("")
    for (const [category, count] of Object.entries(categories)) {
      categorySelect.append(el("option", { value: `cat:${category}`, selected: `cat:${category}` === current,
        text: `${category || "(no category)"} (${count})` }));
    }
  }

  async function loadChanged(reset) {
    if (reset) { cursor = null; shown = 0; clear(table.tBodies[0]); }
    const query = new URLSearchParams({ baseline, candidate, limit: String(PAGE) });
    if (categorySelect.value) query.set("category", categorySelect.value.slice(4));
    if (directionSelect.value) query.set("change", directionSelect.value);
    if (cursor) query.set("cursor", cursor);
    const { data } = await UI.api(`/v1/comparisons/items?${query}`);
    if (reset) fillCategories(data.categories);
    const body = table.tBodies[0];
    for (const row of data.data) {
      body.append(el("tr", { "data-item": row.item_id, "data-change": row.change },
        el("th", { scope: "row" }, itemCell(row)), el("td", {}, changeCell(row)),
        el("td", {}, runCell(row.baseline)), el("td", {}, runCell(row.candidate))));
    }
    shown += data.data.length;
    if (!shown) body.append(el("tr", {}, el("td", { colspan: 4, text: "No item changed its outcome." })));
    cursor = data.next_cursor;
    moreButton.hidden = !cursor;
    countText.textContent = `Showing ${shown} of ${data.n_changed} changed item(s)` +
      (data.n_changed === 1 ? "" : ", largest change first") + ".";
    document.getElementById("changed-section").hidden = false;
  }

  async function load() {
    const body = { baseline_evaluation_id: baseline, candidate_evaluation_id: candidate };
    if (margin) body.margin = Number(margin);
    if (alpha) body.alpha = Number(alpha);
    const [gate, b, c] = await Promise.all([
      UI.api("/v1/comparisons", { method: "POST", body }),
      UI.api(`/v1/evaluations/${encodeURIComponent(baseline)}`),
      UI.api(`/v1/evaluations/${encodeURIComponent(candidate)}`),
    ]);
    runs = { baseline: b.data, candidate: c.data };
    spec = await UI.protocol(gate.data.protocol);
    UI.showError(null);
    renderRuns(gate.data);
    renderGate(gate.data);
    renderHead();
    await loadChanged(true);
  }

  categorySelect.addEventListener("change", () => loadChanged(true).catch(UI.fail));
  directionSelect.addEventListener("change", () => loadChanged(true).catch(UI.fail));
  document.getElementById("changed-filter").addEventListener("submit", (event) => event.preventDefault());
  moreButton.addEventListener("click", () => loadChanged(false).catch(UI.fail));

  if (!baseline || !candidate) {
    UI.start(() => UI.say("Enter the ids of two completed evaluations on the same suite, judge and protocol."));
    return;
  }
  UI.start(() => load().catch(UI.fail));
})();
