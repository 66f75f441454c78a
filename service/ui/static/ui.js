/* judgeserve web pages: shared helpers (API key, REST calls, DOM building, number formatting).
 * Data from the API is only ever inserted as text (textContent / text nodes), never as HTML. */
"use strict";

const UI = (() => {
  const KEY = "judgeserve.apiKey";
  const main = document.getElementById("main");
  const statusBox = document.getElementById("status");
  const errorBox = document.getElementById("error");
  const keyForm = document.getElementById("key-form");
  const keyInput = document.getElementById("api-key");
  const keySet = document.getElementById("key-set");
  const keyForget = document.getElementById("key-forget");
  let onKey = null;

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }
  function getKey() { const s = storage(); return s ? s.getItem(KEY) : null; }
  function setKey(value) { const s = storage(); if (s) s.setItem(KEY, value); }
  function clearKey() { const s = storage(); if (s) s.removeItem(KEY); }

  function showKeyState(message) {
    const has = Boolean(getKey());
    keyForm.hidden = has;
    keySet.hidden = !has;
    if (!has && message) showError(message);
  }

  class ApiError extends Error {
    constructor(status, problem) {
      const detail = problem && (problem.detail || problem.title);
      super(detail ? `${detail} (HTTP ${status})` : `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  /* One REST call with the stored key. Resolves {status, data, etag}; a 304 has no data. */
  async function api(path, { method = "GET", body, etag } = {}) {
    const key = getKey();
    if (!key) throw new ApiError(401, { title: "Enter an API key first" });
    const headers = { Authorization: `Bearer ${key}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (etag) headers["If-None-Match"] = etag;
    const response = await fetch(path, {
      method, headers, cache: "no-store", credentials: "omit", redirect: "error",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 304) return { status: 304, data: null, etag: response.headers.get("ETag") };
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = { detail: text.slice(0, 300) }; }
    }
    if (response.status === 401) refused();
    if (!response.ok) throw new ApiError(response.status, data);
    return { status: response.status, data, etag: response.headers.get("ETag") };
  }

  function refused() {
    clearKey();
    showKeyState("The API key was refused (missing, invalid or revoked): enter a valid key.");
    keyInput.focus();
  }

  /* Fetch a file with the stored key (as `accept`) and save it as `filename` (a clicked link to a blob URL). */
  async function download(path, accept, filename) {
    const key = getKey();
    if (!key) throw new ApiError(401, { title: "Enter an API key first" });
    const response = await fetch(path, { headers: { Authorization: `Bearer ${key}`, Accept: accept },
      cache: "no-store", credentials: "omit", redirect: "error" });
    if (!response.ok) {
      if (response.status === 401) refused();
      let problem = null;
      try { problem = JSON.parse(await response.text()); } catch (e) { problem = null; }
      throw new ApiError(response.status, problem);
    }
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  /* el("p", {class: "x", text: "hello", "aria-label": "..."}, child, "text", ...) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    return fill(node, attrs, children);
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    return fill(node, attrs, children);
  }
  function fill(node, attrs, children) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function isNum(x) { return typeof x === "number" && Number.isFinite(x); }
  function num(x, digits = 3) {
    if (!isNum(x)) return "–";
    if (Number.isInteger(x)) return String(x);
    return x.toFixed(digits);
  }
  function interval(ci, digits = 3) {
    return Array.isArray(ci) && ci.length === 2 && isNum(ci[0]) && isNum(ci[1])
      ? `[${num(ci[0], digits)}, ${num(ci[1], digits)}]` : "–";
  }
  const NAMES = {
    win_rate: "Win rate", lc_win_rate: "Length-controlled win rate", accuracy: "Accuracy",
    mean_score: "Mean score", goal_success_rate: "Goal success rate", elo: "Elo (Bradley–Terry)",
    position_consistency_rate: "Position consistency", first_position_win_rate: "First-position win rate",
    tie_rate: "Tie rate", unscored_rate: "Unscored rate", mean_bpde: "Mean BPDE", n_calls_scored: "Scored judge calls",
    n_items: "Items", n_scored: "Scored items", n_unscored: "Unscored items", n_failed: "Failed items",
    n_reviewed: "Reviewed items", n_reviews_open: "Open reviews", n_needs_review: "Flagged for review",
    n_human_labelled: "Items with human labels", judge_accuracy: "Judge accuracy (vs. human labels)",
    judge_cohen_kappa: "Judge Cohen's κ", judge_scott_pi: "Judge Scott's π", cohen_kappa: "Cohen's κ", scott_pi: "Scott's π",
    pearson_r: "Pearson r", spearman_rho: "Spearman ρ", exact_agreement_rate: "Exact agreement",
    n_rule: "Decided by rule", n_judge: "Decided by judge", wins: "Wins", losses: "Losses", ties: "Ties",
    per_order: "Per order", calibrated: "After calibration (both orders)", after_review: "After human review",
    ab: "Order A→B", ba: "Order B→A", single: "Judge calls", similarity: "Embedding similarity",
  };
  function name(key) {
    if (NAMES[key]) return NAMES[key];
    const text = String(key).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  function date(value) {
    if (!value) return "–";
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
  }

  function say(message) { statusBox.textContent = message || ""; }
  function showError(message) {
    if (!message) { errorBox.hidden = true; errorBox.textContent = ""; return; }
    errorBox.textContent = message;
    errorBox.hidden = false;
  }
  function fail(error) {
    if (error instanceof ApiError && error.status === 401) return;  // the key form says so
    showError(error && error.message ? error.message : String(error));
  }

  /* Run `start` once a key is known (now, or after the user enters one). */
  function start(fn) {
    onKey = fn;
    showKeyState();
    if (getKey()) fn();
    else keyInput.focus();
  }

  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = keyInput.value.trim();
    if (!value) { keyInput.focus(); return; }
    setKey(value);
    keyInput.value = "";
    showError(null);
    showKeyState();
    keyForget.focus();
    if (onKey) onKey();
  });
  keyForget.addEventListener("click", () => {
    clearKey();
    showKeyState();
    keyInput.focus();
  });

  /* A <dl> of label/value pairs as grid cards. */
  function facts(target, entries) {
    clear(target);
    for (const [label, value] of entries) {
      if (value === undefined) continue;
      target.append(el("div", {}, el("dt", { text: label }), el("dd", {}, value === null ? "–" : value)));
    }
  }

  /* The headline metric of a summary: "Win rate 0.467 [0.383, 0.550]". */
  function headline(target, summary) {
    clear(target);
    if (!summary || !summary.metric) { target.append(el("p", { text: "No results yet." })); return null; }
    const metric = summary.metric;
    const value = summary[metric];
    target.append(
      el("span", { class: "metric-name", text: `${name(metric)} ` }),
      el("span", { class: "value", "data-metric": metric, text: num(value) }),
      " ",
      el("span", { class: "ci", text: `95% interval ${interval(summary[`${metric}_ci95`])}` }),
    );
    if (summary.lc_win_rate !== undefined && metric === "win_rate") {
      const text = isNum(summary.lc_win_rate)
        ? `${name("lc_win_rate")} ${num(summary.lc_win_rate)} ${interval(summary.lc_win_rate_ci95)}`
        : `${name("lc_win_rate")}: not computed${summary.lc_note ? ` (${summary.lc_note})` : ""}`;
      target.append(el("br"), el("span", { class: "lc", text }));
    }
    return value;
  }

  /* Label probabilities as rows of "label bar value". */
  function probs(labelProbs, labelName) {
    const box = el("div", { class: "probs" });
    for (const [label, p] of Object.entries(labelProbs || {})) {
      const width = `${Math.round(Math.max(0, Math.min(1, p)) * 100)}%`;
      const bar = el("span");
      bar.style.width = width;
      box.append(
        el("span", { text: labelName ? labelName(label) : label }),
        el("span", { class: "prob-bar", "aria-hidden": "true" }, bar),
        el("span", { class: "num", text: num(p, 2) }),
      );
    }
    return box;
  }

  /* The registered protocols (GET /v1/protocols), fetched once: name → description with its page view
   * and label form. Pages lay items out and label them from these, never from protocol names. */
  let protocolTable = null;
  function protocols() {
    if (!protocolTable) {
      protocolTable = api("/v1/protocols").then(({ data }) => new Map(data.data.map((p) => [p.name, p])));
      protocolTable.catch(() => { protocolTable = null; });
    }
    return protocolTable;
  }
  async function protocol(protocolName) { return (await protocols()).get(protocolName) || null; }
  /* Whether the protocol's judge compares two responses (shown in both orders). */
  function compares(spec) { return Boolean(spec && spec.page_view && spec.page_view.compared); }

  /* What a two-response call's label means for the item ("1" in order B→A is B). */
  function slotMeaning(spec, order, label) {
    if (!compares(spec)) return null;
    const slots = order === "ab" ? { 1: "A", 2: "B" } : order === "ba" ? { 1: "B", 2: "A" } : null;
    if (!slots) return null;
    if (label === "1" || label === "2") return `Response ${label} = ${slots[label]}`;
    if (label === "tie") return "tie";
    return null;
  }

  /* One judge call: label, its meaning, probabilities, flags. */
  function call(spec, judgment) {
    const meaning = slotMeaning(spec, judgment.order, judgment.label);
    const labelName = compares(spec) && ["ab", "ba"].includes(judgment.order)
      ? (l) => (slotMeaning(spec, judgment.order, l) || l) : null;
    const box = el("div", { class: "call" },
      el("span", { class: "label", text: judgment.error ? "error" : (judgment.label ?? "unreadable") }),
      meaning && meaning !== judgment.label ? ` (${meaning})` : "",
      judgment.sample ? el("span", { class: "badge", text: `sample ${judgment.sample + 1}` }) : "",
      judgment.cached ? el("span", { class: "badge info", text: "cached" }) : "",
    );
    if (judgment.label_probs) box.append(probs(judgment.label_probs, labelName));
    if (judgment.error) box.append(el("div", { class: "error-text", text: judgment.error }));
    else if (judgment.raw_output && judgment.raw_output !== judgment.label) {
      box.append(el("details", {}, el("summary", { text: "Raw output" }),
        el("div", { class: "text-block", text: judgment.raw_output })));
    }
    if (judgment.rationale) {
      box.append(el("details", {}, el("summary", { text: "Rationale" }),
        el("div", { class: "text-block", text: judgment.rationale })));
    }
    return box;
  }

  /* Text fields of an item, shown once above its responses: the common ones first, then any other field of
   * the protocol's item (not its id, category, human labels or the responses its page view shows). */
  function itemContext(item, spec) {
    const box = el("div");
    const add = (label, text) => {
      if (text === undefined || text === null || text === "") return;
      box.append(el("div", { class: "slot", text: label }),
        el("div", { class: "text-block", text: typeof text === "string" ? text : JSON.stringify(text, null, 2) }));
    };
    if (item.conversation) {
      add("Conversation", item.conversation.map((t, i) => `[${i}] ${t.role}: ${t.content}`).join("\n\n"));
    }
    add("Prompt", item.prompt);
    add("Question", item.question);
    if (Array.isArray(item.turns)) add("Turns", item.turns.join("\n\n"));
    add("Rubric", item.rubric);
    add("Reference", item.reference);
    add("Human reference", item.human_reference);
    if (item.reference_answers) add("Reference answers", item.reference_answers.join("\n"));
    if (Array.isArray(item.goals)) add("Goals", item.goals.map((g) => `${g.id}: ${g.description}`).join("\n"));
    const view = (spec && spec.page_view) || {};
    const shown = new Set(["id", "category", "conversation", "prompt", "question", "turns", "rubric", "reference",
      "human_reference", "reference_answers", "goals", ...(view.compared || []), view.response]);
    for (const [key, value] of Object.entries(item)) {
      if (!shown.has(key) && !key.startsWith("human_")) add(name(key), value);
    }
    return box;
  }

  function badges(verdict) {
    const out = [];
    if (verdict.pending) out.push(el("span", { class: "badge", text: "pending" }));
    if (verdict.failed) out.push(el("span", { class: "badge bad", text: "failed" }));
    if (verdict.unscored) out.push(el("span", { class: "badge warn", text: "unscored" }));
    if (verdict.position_inconsistent) out.push(el("span", { class: "badge warn", text: "position inconsistent" }));
    if (verdict.needs_review) out.push(el("span", { class: "badge info", text: "needs review" }));
    if (verdict.reviewed) out.push(el("span", { class: "badge good", text: "reviewed" }));
    return out;
  }

  function leaderboardHref(suite, protocol, judge) {
    const query = new URLSearchParams({ protocol });
    if (judge) query.set("judge", judge);
    return `/ui/leaderboards/${encodeURIComponent(suite)}?${query}`;
  }

  /* Call fn now and then every `ms` while the page is open; fn returns false to stop. */
  function poll(fn, ms) {
    let timer = null;
    let stopped = false;
    async function tick() {
      if (stopped) return;
      let again = true;
      try { again = (await fn()) !== false; } catch (error) { fail(error); }
      if (again && !stopped) timer = setTimeout(tick, ms);
    }
    tick();
    return () => { stopped = true; clearTimeout(timer); };
  }

  return {
    protocols, protocol, compares, itemContext, download,
    main, api, ApiError, el, svg, clear, num, interval, name, date, isNum, say, showError, fail, start, facts,
    headline, probs, call, badges, slotMeaning, leaderboardHref, poll,
  };
})();
