/* Evaluation page: status and live progress, summary with intervals, reliability (BPDE histogram,
 * agreement with human labels) and a filterable table of items with both orders' judge calls. */
"use strict";

(() => {
  const { el, svg, clear, num, interval, name, isNum } = UI;
  const id = UI.main.dataset.evaluation;
  const POLL_MS = 1000;
  const PAGE = 200;
  const RUNNING = new Set(["queued", "running"]);
  const progress = document.getElementById("progress");
  const progressText = document.getElementById("progress-text");
  const itemsTable = document.getElementById("items-table");
  const moreButton = document.getElementById("more-items");
  const filterText = document.getElementById("filter-text");
  const filterOutcome = document.getElementById("filter-outcome");
  const filterFlag = document.getElementById("filter-flag");
  const itemsCount = document.getElementById("items-count");
  let evaluation = null;
  let spec = null;  // the evaluation's protocol as GET /v1/protocols describes it
  let verdicts = [];
  let cursor = null;
  let loadedFor = null;  // progress signature the loaded items belong to

  const STATUS_BADGE = { completed: "good", failed: "bad", cancelled: "warn", running: "info", queued: "info" };

  function renderOverview(e) {
    document.querySelector("h1").textContent = `Evaluation of ${e.model}`;
    document.title = `Evaluation of ${e.model} · judgeserve`;
    const status = el("span", { class: `badge ${STATUS_BADGE[e.status] || ""}`, id: "eval-status", text: e.status });
    const entries = [
      ["Status", el("span", {}, status, e.waiting_for_worker ? " no worker serves this judge yet" : "",
        e.status_detail ? ` ${e.status_detail}` : "")],
      ["Protocol", el("span", {}, e.protocol, spec ? el("span", { class: "help", text: ` · ${spec.description}` }) : "")],
      ["Judge", e.judge], ["Model", e.model],
    ];
    if (e.suite) {
      entries.push(["Suite", el("a", { href: UI.leaderboardHref(e.suite, e.protocol, e.judge),
        text: `${e.suite} v${e.suite_version} (leaderboard)` })]);
    }
    if (e.baseline_model) entries.push(["Baseline model", e.baseline_model]);
    const o = e.options || {};
    const opts = ["orders", "samples", "verdict_mode", "tie_margin", "review_fraction", "temperature"]
      .filter((k) => o[k] !== undefined && o[k] !== null).map((k) => `${k.replace(/_/g, " ")} ${o[k]}`).join(", ");
    if (opts) entries.push(["Options", opts]);
    entries.push(["Created", UI.date(e.created_at)], ["Completed", UI.date(e.completed_at)], ["Id", e.id]);
    if (e.status === "completed") {
      entries.push(["Compare", el("a", { href: `/ui/compare?candidate=${encodeURIComponent(e.id)}`,
        text: "with a baseline run" })]);
    }
    if (e.error) entries.push(["Error", e.error]);
    UI.facts(document.getElementById("overview"), entries);

    const p = e.progress;
    const finished = p.done + p.failed;
    progress.max = Math.max(1, p.total);
    progress.value = finished;
    progress.dataset.done = String(finished);
    progress.setAttribute("aria-valuetext", `${finished} of ${p.total} items judged`);
    progressText.textContent = `${finished} of ${p.total} items judged` + (p.failed ? ` (${p.failed} failed)` : "") +
      ` · chunk ${p.chunks_done} of ${p.chunks_total}` + (RUNNING.has(e.status) ? " · updating live" : "");

    const link = document.getElementById("review-link");
    const reviews = e.reviews || {};
    clear(link);
    if (reviews.open || reviews.done) {
      link.hidden = false;
      link.append(
        `${reviews.open || 0} item(s) await human review, ${reviews.done || 0} reviewed. `,
        el("a", { href: `/ui/reviews?evaluation_id=${encodeURIComponent(e.id)}`, text: "Open the review queue" }),
      );
    } else link.hidden = true;
  }

  const SUMMARY_SKIP = new Set(["metric", "human_agreement", "lc_note", "lc_win_rate", "lc_win_rate_ci95"]);

  function valueNode(value, ci) {
    if (isNum(value)) return ci ? `${num(value)} ${interval(ci)}` : num(value);
    if (value === null || value === undefined) return "–";
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "string") return value;
    return null;
  }

  /* A nested object as a small table: rows are its keys, columns the union of their scalar fields. */
  function objectTable(title, object, rowHeader = title) {
    const rows = [];
    const notes = [];
    for (const [key, value] of Object.entries(object || {})) {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const scalars = Object.entries(value).filter(([, v]) => v === null || typeof v !== "object" || Array.isArray(v));
        const nested = Object.entries(value).filter(([, v]) => v && typeof v === "object" && !Array.isArray(v));
        if (scalars.length) rows.push([name(key), Object.fromEntries(scalars)]);
        for (const [sub, v] of nested) rows.push([`${name(key)} · ${name(sub)}`, v]);
      } else notes.push(`${key.replace(/_/g, " ")}: ${valueNode(value) ?? JSON.stringify(value)}`);
    }
    if (!rows.length) return notes.length ? el("p", { text: notes.join(" · ") }) : null;
    const cols = [...new Set(rows.flatMap(([, r]) => Object.keys(r)))].filter((c) => !c.endsWith("_ci95"));
    const table = el("table", {}, el("caption", { text: title }));
    table.append(el("thead", {}, el("tr", {}, el("th", { scope: "col", text: rowHeader }),
      cols.map((c) => el("th", { scope: "col", class: "num", text: name(c) })))));
    const body = el("tbody");
    for (const [label, r] of rows) {
      body.append(el("tr", {}, el("th", { scope: "row", text: label }),
        cols.map((c) => el("td", { class: "num" }, valueNode(r[c], r[`${c}_ci95`]) ?? JSON.stringify(r[c])))));
    }
    table.append(body);
    return el("div", {}, el("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": `${title} (table)` }, table),
      notes.length ? el("p", { class: "help", text: notes.join(" · ") }) : null);
  }

  function renderSummary(e) {
    const s = e.summary;
    const headline = document.getElementById("headline");
    const list = document.getElementById("summary");
    if (!s) {
      clear(headline).append(el("p", { text: RUNNING.has(e.status) ? "Results appear when the evaluation completes." : "No results." }));
      clear(list);
      return;
    }
    UI.headline(headline, s);
    const entries = [];
    const extras = [];
    for (const [key, value] of Object.entries(s)) {
      if (SUMMARY_SKIP.has(key) || key === s.metric || key.endsWith("_ci95")) continue;
      const shown = valueNode(value, s[`${key}_ci95`]);
      if (shown !== null) entries.push([name(key), shown]);
      else if (value && typeof value === "object") extras.push([key, value]);
    }
    UI.facts(list, entries);
    const box = document.getElementById("summary-extras") || el("div", { id: "summary-extras" });
    clear(box);
    for (const [key, value] of extras) {
      const table = objectTable(name(key), value);
      if (table) box.append(table);
    }
    list.after(box);
  }

  /* The reliability warnings (GET /v1/evaluations/{id} `warnings`): what was measured and what it means.
   * Rewritten only when they change, so the alert is announced once. */
  let warningsShown = "";
  function renderWarnings(warnings) {
    const box = document.getElementById("warnings");
    const signature = JSON.stringify(warnings || []);
    if (signature === warningsShown) return;
    warningsShown = signature;
    clear(box);
    box.hidden = !(warnings && warnings.length);
    if (box.hidden) return;
    box.append(
      el("p", { class: "warnings-title", text: "The judge's reliability is poor: read this result with care." }),
      el("ul", {}, warnings.map((w) => el("li", { "data-code": w.code },
        el("strong", { text: `${w.measured.charAt(0).toUpperCase()}${w.measured.slice(1)}.` }), " ",
        `What it means: ${w.meaning}.`))),
    );
  }

  const RELIABILITY_ORDER = ["position_consistency_rate", "first_position_win_rate", "tie_rate", "unscored_rate",
    "mean_bpde", "n_calls_scored", "n_reviewed"];

  function renderReliability(e) {
    const r = e.reliability || {};
    const keys = [...RELIABILITY_ORDER.filter((k) => k in r),
      ...Object.keys(r).filter((k) => !RELIABILITY_ORDER.includes(k))];
    const entries = [];
    for (const key of keys) {
      const shown = valueNode(r[key], r[`${key}_ci95`]);
      if (shown !== null && !key.endsWith("_ci95")) entries.push([name(key), shown]);
    }
    UI.facts(document.getElementById("reliability"), entries.length ? entries : [["Report", "not yet available"]]);
    renderHistogram(r.bpde_histogram || []);
    const agreement = clear(document.getElementById("agreement"));
    const human = (e.summary && e.summary.human_agreement) || r.human_agreement;
    if (human && Object.keys(human).length) {
      agreement.append(el("h3", { text: "Agreement with human labels" }));
      const table = objectTable("Judge verdicts against the items' human labels", human, "Measured on");
      if (table) agreement.append(table);
    }
    const bias = biasTable(r.bias_factors);
    if (bias) agreement.append(el("h3", { text: "Judge bias by factor" }), bias);
  }

  /* reliability.bias_factors: per factor the share preferring the side with more of it (a tie counts ½),
   * 95% Wilson interval and n, the judge beside the humans on the same items, and their difference. */
  function biasTable(report) {
    const rows = (report && report.rows) || [];
    if (!rows.length) return null;
    const pct = (x) => num(x * 100, 0);
    const share = (s) => (!s ? "–" : isNum(s.rate) ? `${pct(s.rate)}% [${pct(s.ci95[0])}, ${pct(s.ci95[1])}] · n ${s.n}`
      : "no item differs");
    const diff = (d) => (isNum(d) ? `${d > 0 ? "+" : ""}${pct(d)} points` : "–");
    const table = el("table", { class: "bias-factors" },
      el("caption", { text: "How often each rater preferred the response with more of the factor (a tie counts ½; 50% = no bias)" }),
      el("thead", {}, el("tr", {}, ["Factor", "Judge", "Humans", "Judge on the humans' items", "Difference"].map(
        (t, i) => el("th", { scope: "col", class: i ? "num" : null, text: t })))),
      el("tbody", {}, rows.map((r) => el("tr", { "data-factor": r.factor },
        el("th", { scope: "row", text: r.description }),
        [share(r.judge), share(r.humans), share(r.judge_same_items), diff(r.difference)].map(
          (t) => el("td", { class: "num", text: t }))))));
    return el("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Judge bias by factor (table)" }, table);
  }

  function renderHistogram(bins) {
    const figure = document.getElementById("bpde-chart");
    for (const node of [...figure.querySelectorAll("svg, .table-wrap, details")]) node.remove();
    if (!bins.length) return;
    const width = Math.max(280, Math.min(640, figure.clientWidth || 480));
    const height = 170;
    const left = 36;
    const bottom = 40;
    const top = 20;
    const maxCount = Math.max(1, ...bins.map((b) => b.count));
    const barWidth = (width - left - 10) / bins.length;
    const described = bins.map((b) => `${num(b.low, 2)}–${num(b.high, 2)}: ${b.count}`).join("; ");
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-labelledby": "bpde-title" }, svg("title", { id: "bpde-title", text: `Items per BPDE range: ${described}` }));
    const y = (count) => top + (1 - count / maxCount) * (height - top - bottom);
    root.append(svg("line", { class: "grid", x1: left, x2: width - 10, y1: y(0), y2: y(0), "aria-hidden": "true" }));
    bins.forEach((b, i) => {
      const x0 = left + i * barWidth + 2;
      root.append(svg("rect", { class: "bar", x: x0, y: y(b.count), width: Math.max(1, barWidth - 4),
        height: y(0) - y(b.count), "aria-hidden": "true" }));
      root.append(svg("text", { x: x0 + (barWidth - 4) / 2, y: y(b.count) - 3, "text-anchor": "middle",
        "aria-hidden": "true", text: b.count ? b.count : "" }));
      root.append(svg("text", { x: x0 + (barWidth - 4) / 2, y: height - bottom + 14, "text-anchor": "middle",
        "aria-hidden": "true", text: num(b.low, 2) }));
    });
    root.append(svg("text", { x: left + (width - left) / 2, y: height - 6, "text-anchor": "middle", "aria-hidden": "true",
      text: "BPDE (lower edge of each bin)" }));
    figure.insertBefore(root, figure.querySelector("figcaption"));
    const table = el("table", {}, el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: "BPDE from" }), el("th", { scope: "col", text: "to" }),
      el("th", { scope: "col", class: "num", text: "Items" }))),
    el("tbody", {}, bins.map((b) => el("tr", {}, el("td", { text: num(b.low, 3) }), el("td", { text: num(b.high, 3) }),
      el("td", { class: "num", text: b.count })))));
    figure.append(el("details", {}, el("summary", { text: "Histogram as a table" }), el("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "BPDE histogram (table)" }, table)));
  }

  /* ---- items ---- */

  function orderColumns() {
    if (UI.compares(spec)) {
      const others = new Set(verdicts.flatMap((v) => v.judgments.map((j) => j.order)).filter((o) => o !== "ab" && o !== "ba"));
      return ["ab", "ba", ...(others.size ? ["other"] : [])];
    }
    return ["all"];
  }

  function columnLabel(col) {
    return { ab: "Order A→B (A shown first)", ba: "Order B→A (B shown first)", other: "Other calls", all: "Judge calls" }[col];
  }

  function callsFor(verdict, col) {
    const picked = verdict.judgments.filter((j) => (col === "all" ? true : col === "other"
      ? j.order !== "ab" && j.order !== "ba" : j.order === col));
    if (!picked.length) return "–";
    const box = el("div", { class: "calls" });
    let lastOrder = null;
    for (const j of picked.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : a.sample - b.sample))) {
      if ((col === "all" || col === "other") && j.order !== lastOrder) {
        box.append(el("div", { class: "help", text: name(j.order) }));
        lastOrder = j.order;
      }
      box.append(UI.call(spec, j));
    }
    return box;
  }

  function itemText(item) {
    if (!item) return "";
    return Object.values(item).map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(" ").toLowerCase();
  }

  function verdictCell(v) {
    const main = v.pending ? "pending" : v.outcome ?? (v.unscored ? "unscored" : "–");
    const score = isNum(v.score) ? ` (score ${num(v.score)})` : "";
    return el("div", {}, el("span", { class: "label", text: main }), score, el("div", {}, UI.badges(v)),
      selfReference(v.details && v.details.self_reference));
  }

  /* Self-reference judging: the judge's own answer and each call's critique against it (details.self_reference). */
  function selfReference(record) {
    if (!record) return null;
    if (record.status === "skipped") return el("div", { class: "help", text: "Own answer skipped: the item has a human reference." });
    const box = el("details", {}, el("summary", { text: "Judge's own answer and critiques" }));
    box.append(el("div", { class: "slot", text: "Judge's own answer" }),
      el("div", { class: "text-block", text: record.answer ?? record.reason ?? record.status }));
    for (const c of record.critiques || []) {
      box.append(el("div", { class: "slot", text: `Critique, ${name(c.order)} sample ${c.sample + 1}` }),
        el("div", { class: "text-block", text: c.critique ?? "–" }));
    }
    return box;
  }

  function itemCell(v) {
    const cell = el("div", {}, el("span", { class: "item-id", text: v.item_id }));
    const item = v.item || {};
    if (item.category) cell.append(el("div", { class: "help", text: item.category }));
    const fields = Object.entries(item).filter(([k]) => !["id", "category"].includes(k));
    if (fields.length) {
      const details = el("details", {}, el("summary", { text: "Item" }));
      for (const [k, value] of fields) {
        details.append(el("div", { class: "slot", text: name(k) }),
          el("div", { class: "text-block", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) }));
      }
      cell.append(details);
    }
    return cell;
  }

  function renderItems() {
    const cols = orderColumns();
    const thead = clear(itemsTable.tHead);
    thead.append(el("tr", {}, el("th", { scope: "col", text: "Item" }), el("th", { scope: "col", text: "Verdict" }),
      el("th", { scope: "col", class: "num", text: "BPDE" }), cols.map((c) => el("th", { scope: "col", text: columnLabel(c) }))));
    const outcomes = [...new Set(verdicts.map((v) => v.outcome).filter(Boolean))].sort();
    const current = filterOutcome.value;
    clear(filterOutcome).append(el("option", { value: "", text: "any" }),
      ...outcomes.map((o) => el("option", { value: o, text: o, selected: o === current })));
    applyFilter(cols);
  }

  function applyFilter(cols = orderColumns()) {
    const text = filterText.value.trim().toLowerCase();
    const outcome = filterOutcome.value;
    const flag = filterFlag.value;
    const shown = verdicts.filter((v) => (!outcome || v.outcome === outcome) && (!flag || v[flag])
      && (!text || v.item_id.toLowerCase().includes(text) || itemText(v.item).includes(text)));
    const body = clear(itemsTable.tBodies[0]);
    for (const v of shown) {
      body.append(el("tr", { "data-item": v.item_id },
        el("th", { scope: "row" }, itemCell(v)), el("td", {}, verdictCell(v)),
        el("td", { class: "num", text: num(v.bpde) }), cols.map((c) => el("td", {}, callsFor(v, c)))));
    }
    if (!shown.length) body.append(el("tr", {}, el("td", { colspan: 3 + cols.length, text: "No items match." })));
    const total = evaluation ? evaluation.progress.total : verdicts.length;
    itemsCount.textContent = `Showing ${shown.length} of ${verdicts.length} loaded items (${total} in the evaluation).`;
  }

  async function loadItems(reset) {
    if (reset) { verdicts = []; cursor = null; }
    const query = new URLSearchParams({ limit: String(PAGE), include_item: "true" });
    if (cursor) query.set("cursor", cursor);
    const { data } = await UI.api(`/v1/evaluations/${encodeURIComponent(id)}/verdicts?${query}`);
    verdicts = verdicts.concat(data.data);
    cursor = data.next_cursor;
    moreButton.hidden = !cursor;
    renderItems();
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (evaluation && evaluation.reliability) renderHistogram(evaluation.reliability.bpde_histogram || []);
    }, 150);
  });

  for (const control of [filterText, filterOutcome, filterFlag]) control.addEventListener("input", () => applyFilter());
  document.getElementById("filter-form").addEventListener("submit", (event) => event.preventDefault());
  moreButton.addEventListener("click", () => loadItems(false).catch(UI.fail));

  async function refresh() {
    const { data } = await UI.api(`/v1/evaluations/${encodeURIComponent(id)}`);
    evaluation = data;
    if (!spec) spec = await UI.protocol(data.protocol);
    UI.showError(null);
    renderOverview(data);
    renderSummary(data);
    renderWarnings(data.warnings);
    renderReliability(data);
    const signature = `${data.status}:${data.progress.done}:${data.progress.failed}:${data.summary ? data.summary.n_reviewed : ""}`;
    // items are (re)loaded when the first page may have changed: new chunks, the end, or a review
    if (signature !== loadedFor && (verdicts.length <= PAGE || !RUNNING.has(data.status))) {
      loadedFor = signature;
      await loadItems(true);
    }
    const running = RUNNING.has(data.status);
    UI.say(running ? `Evaluation ${data.status}: updating every second.` : "");
    return running;
  }

  UI.start(() => UI.poll(async () => {
    try { return await refresh(); } catch (error) {
      if (error.status === 404) { UI.showError(`No evaluation ${id} in this key's project.`); return false; }
      if (error.status === 401) return false;
      throw error;
    }
  }, POLL_MS));
})();
