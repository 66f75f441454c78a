/* Rating vs ranking page: do two evaluations' scores of models X and Y imply the verdict a third evaluation gives
 * when it compares them? (POST /v1/analyses/rating-vs-ranking: agreement, 3×3 matrix, kappa, disagreeing items) */
"use strict";

(() => {
  const { el, clear, num, interval } = UI;
  const { scoresX: ratingX, scoresY: ratingY, comparison } = UI.main.dataset;
  const PREFERENCES = ["x", "tie", "y"];

  function label(models, preference) {
    if (preference === "tie") return "tie";
    return `${preference.toUpperCase()} (${preference === "x" ? models.x : models.y})`;
  }

  function evaluationLink(id, text) {
    return el("a", { href: `/ui/evaluations/${encodeURIComponent(id)}`, text });
  }

  function renderAgreement(r, models) {
    document.querySelector("h1").textContent = `Rating vs ranking: ${models.x} and ${models.y}`;
    clear(document.getElementById("agreement")).append(
      el("span", { class: "metric-name", text: "Agreement " }),
      el("span", { class: "value", id: "agreement-rate", text: num(r.agreement_rate) }), " ",
      el("span", { class: "ci", text: `95% interval ${interval(r.agreement_rate_ci95)}` }));
    UI.facts(document.getElementById("agreement-facts"), [
      ["Shared items", num(r.n_items)], ["Agree", num(r.n_agree)], ["Disagreement rate", num(r.disagreement_rate)],
      ["Cohen's κ", num(r.cohen_kappa)],
      ["X scored by", evaluationLink(r.rating_x_evaluation_id, models.x)],
      ["Y scored by", evaluationLink(r.rating_y_evaluation_id, models.y)],
      ["Compared by", evaluationLink(r.pairwise_evaluation_id, `${models.x} vs ${models.y}`)],
    ]);
    const warnings = clear(document.getElementById("rvr-warnings"));
    for (const text of r.warnings) warnings.append(el("li", { class: "warning", text }));
    const table = document.getElementById("matrix");
    clear(table.tHead).append(el("tr", {}, el("td", {}),
      ...PREFERENCES.map((p) => el("th", { scope: "col", text: `verdict: ${label(models, p)}` }))));
    const body = clear(table.tBodies[0]);
    for (const row of PREFERENCES) {
      body.append(el("tr", {}, el("th", { scope: "row", text: `scores: ${label(models, row)}` }),
        ...PREFERENCES.map((col) => el("td", { class: row === col ? "num agree" : "num",
          "data-cell": `${row}-${col}`, text: String(r.matrix[row][col]) }))));
    }
    document.getElementById("agreement-section").hidden = false;
  }

  function renderDisagreements(r, models) {
    const table = document.getElementById("disagreements");
    clear(table.tHead).append(el("tr", {}, ...["Item", `Score of ${models.x}`, `Score of ${models.y}`,
      "Scores imply", "Verdict", "Verdicts"].map((text) => el("th", { scope: "col", text }))));
    const body = clear(table.tBodies[0]);
    for (const d of r.disagreements) {
      const links = el("span", {}, ...[["rating_x", "X's score"], ["rating_y", "Y's score"], ["comparison", "verdict"]]
        .flatMap(([key, text], i) => [i ? " · " : "", el("a", { href: d.links[key], text: `${text} (JSON)` })]));
      body.append(el("tr", { "data-item": d.item_id }, el("th", { scope: "row", text: d.item_id }),
        el("td", { class: "num", text: num(d.score_x) }), el("td", { class: "num", text: num(d.score_y) }),
        el("td", { text: label(models, d.from_scores) }), el("td", { text: label(models, d.from_comparison) }),
        el("td", {}, links)));
    }
    if (!r.disagreements.length) body.append(el("tr", {}, el("td", { colspan: 6, text: "Every shared item agrees." })));
    document.getElementById("disagree-section").hidden = false;
  }

  async function load() {
    const { data } = await UI.api("/v1/analyses/rating-vs-ranking", { method: "POST", body: {
      rating_x_evaluation_id: ratingX, rating_y_evaluation_id: ratingY, pairwise_evaluation_id: comparison } });
    const models = { x: data.model_x, y: data.model_y };
    UI.showError(null);
    UI.say(`${data.n_items} shared items analysed.`);
    renderAgreement(data, models);
    renderDisagreements(data, models);
  }

  if (!ratingX || !ratingY || !comparison) {
    UI.start(() => UI.say("Enter the ids of two completed scoring evaluations (models X and Y) and of one "
      + "completed evaluation comparing X with Y."));
    return;
  }
  UI.start(() => load().catch(UI.fail));
})();
