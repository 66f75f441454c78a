/* Review queue: flagged items with the prompt and both orders as the judge saw them; buttons record
 * the human label (POST /v1/reviews/{id}) and the evaluation's metric is shown again as recomputed. */
"use strict";

(() => {
  const { el, clear, num, name } = UI;
  const { evaluation: evaluationId, status } = UI.main.dataset;
  const REVIEWER = "judgeserve.reviewer";
  const queue = document.getElementById("queue");
  const count = document.getElementById("queue-count");
  const more = document.getElementById("more-reviews");
  const reviewerInput = document.getElementById("reviewer");
  const panel = document.getElementById("metric-panel");
  const headlineBox = document.getElementById("headline");
  const metricLink = document.getElementById("metric-link");
  let cursor = null;
  let shown = 0;

  try { reviewerInput.value = sessionStorage.getItem(REVIEWER) || ""; } catch (e) { /* no storage */ }
  reviewerInput.addEventListener("change", () => {
    try { sessionStorage.setItem(REVIEWER, reviewerInput.value.trim()); } catch (e) { /* no storage */ }
  });
  document.getElementById("reviewer-form").addEventListener("submit", (event) => {
    // the status select reloads the page; the reviewer name stays in this tab
    try { sessionStorage.setItem(REVIEWER, reviewerInput.value.trim()); } catch (e) { /* no storage */ }
    event.preventDefault();
    const query = new URLSearchParams({ status: document.getElementById("review-status").value });
    if (evaluationId) query.set("evaluation_id", evaluationId);
    window.location.search = query.toString();
  });

  async function showMetric(id, message) {
    const { data } = await UI.api(`/v1/evaluations/${encodeURIComponent(id)}`);
    panel.hidden = false;
    const value = UI.headline(headlineBox, data.summary);
    const s = data.summary || {};
    headlineBox.append(el("br"), el("span", { class: "help",
      text: `${data.model} judged by ${data.judge}: ${s.n_reviewed ?? 0} reviewed, ${s.n_reviews_open ?? 0} open.` }));
    clear(metricLink).append(el("a", { href: `/ui/evaluations/${encodeURIComponent(id)}`,
      text: `Evaluation of ${data.model}: details` }));
    if (message) UI.say(`${message} ${name(s.metric || "metric")} is now ${num(value)}.`);
  }

  /* The two compared responses, from the item fields the protocol's page view names. */
  function responses(item, spec) {
    const [a, b] = spec.page_view.compared;
    return { A: item[a], B: item[b] };
  }

  /* Both orders side by side, each as the judge saw it, with that order's calls. */
  function orders(review, spec) {
    const { A, B } = responses(review.item, spec);
    const [nameA, nameB] = spec.page_view.compared_names;
    const called = { A: nameA, B: nameB };
    const box = el("div", { class: "orders" });
    for (const order of ["ab", "ba"]) {
      const [first, second] = order === "ab" ? ["A", "B"] : ["B", "A"];
      const text = { A, B };
      const calls = review.judgments.filter((j) => j.order === order);
      box.append(el("section", { class: "order", "data-order": order, "aria-label": `Item ${review.item_id}, ${name(order)}` },
        el("h4", { text: `${name(order)}: the judge saw ${first} first` }),
        el("div", { class: "slot", text: `Response 1 = ${called[first]}` }),
        el("div", { class: "text-block", text: text[first] ?? "" }),
        el("div", { class: "slot", text: `Response 2 = ${called[second]}` }),
        el("div", { class: "text-block", text: text[second] ?? "" }),
        el("div", { class: "slot", text: "Judge calls" }),
        calls.length ? el("div", { class: "calls" }, calls.map((j) => UI.call(spec, j))) : el("p", { text: "none" })));
    }
    const others = review.judgments.filter((j) => j.order !== "ab" && j.order !== "ba");
    if (others.length) box.append(el("section", { class: "order", "aria-label": `Item ${review.item_id}, other calls` },
      el("h4", { text: "Other calls" }), el("div", { class: "calls" }, others.map((j) => UI.call(spec, j)))));
    return box;
  }

  function singleResponse(review, spec) {
    const item = review.item || {};
    const box = el("div");
    const field = spec.page_view.response;
    if (field && item[field] !== undefined) {
      box.append(el("div", { class: "slot", text: "Response" }), el("div", { class: "text-block", text: item[field] }));
    }
    if (spec.label_form.kind !== "goals") {  // goal labels show each goal's verdict beside its controls
      box.append(el("div", { class: "slot", text: "Judge calls" }),
        el("div", { class: "calls" }, review.judgments.map((j) => UI.call(spec, j))));
    }
    return box;
  }

  /* The scale of a score form: the length of the item field it names (a list or a {score: text} map). */
  function scaleOf(item, form) {
    const value = form.scale_from ? item[form.scale_from] : null;
    if (Array.isArray(value)) return value.length;
    if (value && typeof value === "object") return Object.keys(value).length;
    return form.default_scale;
  }

  /* Label controls from the protocol's label form; `send(body, text)` posts the label. */
  function controls(review, spec, send) {
    const form = spec.label_form;
    const headingId = `label-${review.id}`;
    const fieldset = el("fieldset", {}, el("legend", { id: headingId, text: "Your label" }));
    const buttons = el("div", { class: "label-buttons", role: "group", "aria-labelledby": headingId });
    const button = (text, body, said) => el("button", { type: "button", "data-label": said,
      on: { click: () => send(body, said) } }, text);
    if (form.kind === "choice") {
      for (const choice of form.choices) buttons.append(button(choice.text, { [form.field]: choice.value }, choice.value));
    } else if (form.kind === "score") {
      for (let score = 1; score <= scaleOf(review.item || {}, form); score += 1) {
        buttons.append(button(`Score ${score}`, { [form.field]: score }, `score ${score}`));
      }
    } else if (form.kind === "goals") {
      const details = review.verdict.details || {};
      const taxonomy = details.root_cause_taxonomy || [];
      const goals = details.goals || [];
      const rows = goals.map((goal) => {
        const achievedId = `g-${review.id}-${goal.id}`;
        const causeId = `c-${review.id}-${goal.id}`;
        const achieved = el("input", { type: "checkbox", id: achievedId, checked: goal.achieved === true });
        const cause = el("select", { id: causeId }, el("option", { value: "", text: "(no root cause)" }),
          taxonomy.map((c) => el("option", { value: c, text: c, selected: c === goal.root_cause })));
        fieldset.append(el("div", { class: "goal-label" },
          el("span", { text: `${goal.id}: ${goal.description}` }),
          el("span", {}, achieved, " ", el("label", { for: achievedId, text: "achieved" })),
          el("span", {}, el("label", { for: causeId, text: "Root cause if not achieved " }), cause)));
        return { goal, achieved, cause };
      });
      buttons.append(el("button", { type: "button", "data-label": "goals", on: { click: () => {
        const labels = {};
        for (const { goal, achieved, cause } of rows) {
          labels[goal.id] = achieved.checked ? { achieved: true } : { achieved: false, ...(cause.value ? { root_cause: cause.value } : {}) };
        }
        send({ [form.field]: labels }, "goal labels");
      } } }, "Record goal labels"));
    }
    const noteId = `note-${review.id}`;
    fieldset.append(buttons, el("div", { class: "field" }, el("label", { for: noteId, text: "Note (optional)" }),
      el("textarea", { id: noteId, rows: 2, maxlength: 10000 })));
    return fieldset;
  }

  function describeLabel(label) {
    if (!label) return "";
    if (label.goals) return Object.entries(label.goals).map(([g, v]) => `${g}: ${v.achieved ? "achieved" : v.root_cause || "not achieved"}`).join(", ");
    if (label.score !== undefined) return `score ${label.score}`;
    return String(label.label ?? JSON.stringify(label));
  }

  function renderReview(review) {
    const spec = review.protocol;
    const v = review.verdict;
    const headingId = `review-${review.id}`;
    const result = el("p", { class: "review-result", role: "status", "aria-live": "polite" });
    const article = el("article", { class: `review${review.status === "done" ? " labelled" : ""}`,
      "aria-labelledby": headingId, "data-review": review.id, "data-item": review.item_id });
    article.append(
      el("h3", { id: headingId, tabindex: "-1", text: `Item ${review.item_id}` }),
      el("p", {}, `Judge's verdict: `, el("strong", { text: v.outcome ?? "unscored" }),
        UI.isNum(v.score) ? ` (score ${num(v.score)})` : "", ` · BPDE ${num(review.bpde)} · `,
        el("a", { href: `/ui/evaluations/${encodeURIComponent(review.evaluation_id)}`, text: "evaluation" }), " ",
        UI.badges(v)),
      UI.itemContext(review.item || {}, spec),
      UI.compares(spec) && review.item ? orders(review, spec) : singleResponse(review, spec),
    );
    if (review.status === "done") result.textContent = `Labelled ${describeLabel(review.label)} by ${review.reviewer}.`;
    const send = async (body, said) => {
      const reviewer = reviewerInput.value.trim();
      if (!reviewer) {
        UI.showError("Enter your name first: it is recorded with the label.");
        reviewerInput.focus();
        return;
      }
      try { sessionStorage.setItem(REVIEWER, reviewer); } catch (e) { /* no storage */ }
      const note = article.querySelector("textarea").value.trim();
      const payload = { ...body, reviewer, ...(note ? { note } : {}) };
      for (const b of article.querySelectorAll("button[data-label]")) b.setAttribute("aria-pressed", "false");
      try {
        const { data } = await UI.api(`/v1/reviews/${encodeURIComponent(review.id)}`, { method: "POST", body: payload });
        UI.showError(null);
        article.classList.add("labelled");
        const pressed = article.querySelector(`button[data-label="${said}"]`);
        if (pressed) pressed.setAttribute("aria-pressed", "true");
        result.textContent = `Labelled ${describeLabel(data.label)} by ${data.reviewer}. You can correct it by choosing again.`;
        await showMetric(review.evaluation_id, `Label for item ${review.item_id} recorded.`);
      } catch (error) { UI.fail(error); }
    };
    article.append(controls(review, spec, send), result);
    return article;
  }

  /* An evaluation's protocol as GET /v1/protocols describes it (its page view and label form). */
  const protocolsOf = new Map();
  async function protocolOf(id) {
    if (!protocolsOf.has(id)) {
      protocolsOf.set(id, UI.api(`/v1/evaluations/${encodeURIComponent(id)}`).then((r) => UI.protocol(r.data.protocol)));
    }
    return protocolsOf.get(id);
  }

  async function load(reset) {
    if (reset) { cursor = null; shown = 0; clear(queue); }
    const query = new URLSearchParams({ status: status || "open", limit: "20" });
    if (evaluationId) query.set("evaluation_id", evaluationId);
    if (cursor) query.set("cursor", cursor);
    const { data } = await UI.api(`/v1/reviews?${query}`);
    for (const review of data.data) {
      review.protocol = await protocolOf(review.evaluation_id);
      queue.append(renderReview(review));
    }
    shown += data.data.length;
    cursor = data.next_cursor;
    more.hidden = !cursor;
    count.textContent = shown ? `${shown} ${status || "open"} review(s) shown, highest BPDE first.`
      : `No ${status || "open"} reviews${evaluationId ? " for this evaluation" : ""}.`;
  }

  more.addEventListener("click", () => load(false).catch(UI.fail));

  UI.start(async () => {
    try {
      if (evaluationId) await showMetric(evaluationId);
      await load(true);
    } catch (error) {
      if (error.status === 404) UI.showError(`No evaluation ${evaluationId} in this key's project.`);
      else UI.fail(error);
    }
  });
})();
