/* Leaderboard page: sortable table and an interval chart, refreshed by polling with If-None-Match. */
"use strict";

(() => {
  const { el, svg, clear, num, interval, name, isNum } = UI;
  const { suite, protocol, judge, runs } = UI.main.dataset;
  const POLL_MS = 3000;
  const table = document.getElementById("leaderboard-table");
  const chart = document.getElementById("chart");
  const caption = document.getElementById("chart-caption");
  const context = document.getElementById("lb-context");
  const updated = document.getElementById("updated");
  let board = null;
  let etag = null;
  let sort = { key: "rank", dir: "ascending" };

  function url() {
    const query = new URLSearchParams({ protocol, runs: runs || "latest" });
    if (judge) query.set("judge", judge);
    return `/v1/leaderboards/${encodeURIComponent(suite)}?${query}`;
  }

  function columns(board, rows, metric) {
    const cols = [
      { key: "rank", label: "Rank", num: true, value: (r) => r.rank, show: (r) => num(r.rank) },
      { key: "rank_range", label: "Rank range", num: true, value: (r) => r.rank_best ?? null, show: rankRange,
        title: (r) => (isNum(r.rank_best) ? `Between rank ${r.rank_best} and ${r.rank_worst} given the intervals` : null) },
      { key: "model", label: "Model", value: (r) => r.model, show: (r) => r.model },
      { key: "value", label: name(metric), num: true, value: (r) => r.value, show: (r) => num(r.value) },
      { key: "ci95", label: "95% interval", num: true, value: (r) => (r.ci95 ? r.ci95[0] : null), show: (r) => interval(r.ci95) },
      { key: "n", label: "Items", num: true, value: (r) => r.n, show: (r) => num(r.n) },
    ];
    if (rows.some((r) => isNum(r.elo))) {
      cols.push({ key: "elo", label: "Elo (Bradley–Terry)", num: true, value: (r) => r.elo,
        show: (r) => (isNum(r.elo) ? `${num(r.elo, 0)} ${interval(r.elo_ci95, 0)}` : "–") });
    }
    // the protocol's own columns (GET /v1/protocols leaderboard.columns): a value shown with its `_ci95`
    // interval, and its `_note` columns as the cell's tooltip
    const declared = board.columns || [];
    const notes = declared.filter((c) => c.endsWith("_note"));
    for (const c of declared.filter((c) => !c.endsWith("_ci95") && !c.endsWith("_note"))) {
      if (!rows.some((r) => c in r)) continue;
      cols.push({ key: c, label: name(c), num: true, value: (r) => r[c],
        show: (r) => (isNum(r[c]) ? `${num(r[c])} ${interval(r[`${c}_ci95`])}` : "–"),
        title: (r) => notes.map((n) => r[n]).filter(Boolean).join(" ") || null });
    }
    cols.push(
      { key: "completed_at", label: "Completed", value: (r) => r.completed_at || "", show: (r) => UI.date(r.completed_at) },
      { key: "evaluation", label: "Evaluation", value: (r) => r.evaluation_id || "",
        show: (r) => (r.evaluation_id
          ? el("a", { href: `/ui/evaluations/${encodeURIComponent(r.evaluation_id)}`,
            "aria-label": `Evaluation of ${r.model}`, text: "details" })
          : "–") },
    );
    return cols;
  }

  function rankRange(row) {
    if (!isNum(row.rank_best) || !isNum(row.rank_worst)) return "–";
    return row.rank_best === row.rank_worst ? String(row.rank_best) : `${row.rank_best}–${row.rank_worst}`;
  }

  function compare(col, dir) {
    return (a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      if (x === y) return a.rank - b.rank;
      if (x === null || x === undefined) return 1;  // missing values last either way
      if (y === null || y === undefined) return -1;
      const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return dir === "ascending" ? order : -order;
    };
  }

  function renderTable() {
    const rows = board.rows || [];
    const cols = columns(board, rows, board.metric);
    const thead = clear(table.tHead);
    const head = el("tr");
    for (const col of cols) {
      const th = el("th", { scope: "col", class: col.num ? "num" : null,
        "aria-sort": sort.key === col.key ? sort.dir : "none" });
      th.append(el("button", {
        type: "button", class: "sort", "data-key": col.key, text: col.label,
        on: { click: () => {
          const dir = sort.key === col.key && sort.dir === "ascending" ? "descending"
            : sort.key === col.key ? "ascending" : (col.num && col.key !== "rank" ? "descending" : "ascending");
          sort = { key: col.key, dir };
          renderTable();
          table.querySelector(`button[data-key="${col.key}"]`).focus();
          UI.say(`Sorted by ${col.label}, ${dir}.`);
        } },
      }));
      head.append(th);
    }
    thead.append(head);
    const col = cols.find((c) => c.key === sort.key) || cols[0];
    const body = clear(table.tBodies[0]);
    for (const row of [...rows].sort(compare(col, sort.dir))) {
      const tr = el("tr", { "data-model": row.model });
      for (const c of cols) {
        const cell = el(c.key === "model" ? "th" : "td", {
          class: c.num ? "num" : null, scope: c.key === "model" ? "row" : null,
          title: c.title ? c.title(row) : null,
        }, c.show(row));
        tr.append(cell);
      }
      body.append(tr);
    }
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: cols.length, text: "No rows yet." })));
  }

  /* The metric's declared range when it is a share (GET /v1/protocols metric_kind), else one fitted to the rows. */
  function niceDomain(rows) {
    const range = board.metric_kind && board.metric_kind.range;
    if (range && range[0] === 0 && range[1] === 1) return [0, 1];
    const values = rows.flatMap((r) => [r.value, ...(r.ci95 || [])]).filter(isNum);
    if (!values.length) return [0, 1];
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    const pad = (hi - lo) * 0.1 || 0.5;
    lo = Math.floor((lo - pad) * 2) / 2;
    hi = Math.ceil((hi + pad) * 2) / 2;
    return [lo, hi];
  }

  function renderChart() {
    const rows = [...(board.rows || [])].filter((r) => isNum(r.value)).sort((a, b) => a.rank - b.rank);
    for (const node of [...chart.querySelectorAll("svg")]) node.remove();
    const metric = board.metric || "value";
    caption.textContent = `${name(metric)} of each model (dot) with its 95% interval (bar)` +
      (board.ranked_by ? "; the dashed line at 0.5 is parity with the baseline." : ".");
    if (!rows.length) return;
    const width = Math.max(300, Math.min(900, chart.clientWidth || 640));
    const labelWidth = Math.min(170, Math.round(width * 0.32));
    const rowHeight = 30;
    const top = 10;
    const bottom = 34;
    const right = 16;
    const height = top + rows.length * rowHeight + bottom;
    const [lo, hi] = niceDomain(rows);
    const x = (v) => labelWidth + ((Math.max(lo, Math.min(hi, v)) - lo) / (hi - lo)) * (width - labelWidth - right);
    const titleId = "chart-title";
    const summary = rows.map((r) => `${r.model} ${num(r.value)} ${interval(r.ci95)}`).join("; ");
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": titleId,
      "data-rows": rows.length,
    }, svg("title", { id: titleId, text: `${name(metric)} with 95% intervals: ${summary}` }));
    const ticks = 5;
    const axis = svg("g", { class: "axis", "aria-hidden": "true" });
    for (let i = 0; i <= ticks; i += 1) {
      const v = lo + ((hi - lo) * i) / ticks;
      const px = x(v);
      axis.append(
        svg("line", { class: "grid", x1: px, x2: px, y1: top, y2: height - bottom + 4 }),
        svg("text", { x: px, y: height - bottom + 18, "text-anchor": "middle", text: num(v, 2) }),
      );
    }
    axis.append(svg("text", { x: labelWidth + (width - labelWidth - right) / 2, y: height - 4, "text-anchor": "middle",
      text: name(metric) }));
    root.append(axis);
    if (board.ranked_by) {  // values are win rates against the baseline
      root.append(svg("line", { class: "ref", x1: x(0.5), x2: x(0.5), y1: top, y2: height - bottom, "aria-hidden": "true" }));
    }
    rows.forEach((row, i) => {
      const cy = top + i * rowHeight + rowHeight / 2;
      const label = row.model.length > 22 ? `${row.model.slice(0, 21)}…` : row.model;
      const group = svg("g", { class: "model-row", "data-model": row.model, "aria-hidden": "true" },
        svg("text", { x: labelWidth - 8, y: cy + 4, "text-anchor": "end", text: label }));
      if (Array.isArray(row.ci95) && isNum(row.ci95[0]) && isNum(row.ci95[1])) {
        const [a, b] = [x(row.ci95[0]), x(row.ci95[1])];
        group.append(
          svg("line", { class: "interval", x1: a, x2: b, y1: cy, y2: cy }),
          svg("line", { class: "interval", x1: a, x2: a, y1: cy - 6, y2: cy + 6 }),
          svg("line", { class: "interval", x1: b, x2: b, y1: cy - 6, y2: cy + 6 }),
        );
      }
      group.append(svg("circle", { class: "point", cx: x(row.value), cy, r: 5 }));
      const high = x(Array.isArray(row.ci95) && isNum(row.ci95[1]) ? row.ci95[1] : row.value);
      const low = x(Array.isArray(row.ci95) && isNum(row.ci95[0]) ? row.ci95[0] : row.value);
      const roomRight = width - right - high > 40;
      group.append(svg("text", { class: "value-label", x: roomRight ? high + 8 : low - 8, y: cy + 4,
        "text-anchor": roomRight ? "start" : "end", text: num(row.value) }));
      root.append(group);
    });
    chart.insertBefore(root, caption);
  }

  function renderContext() {
    const parts = [`Suite ${board.suite} version ${board.suite_version ?? "–"}`, `protocol ${board.protocol}`,
      `judge ${board.judge}`, `metric ${name(board.metric || "value")}`];
    if (board.ranking && board.ranking.anchor) {
      parts.push(`Elo anchored at ${num(board.ranking.anchor_rating, 0)} on ${board.ranking.anchor}`);
    }
    context.textContent = `${parts.join(" · ")}.`;
  }

  async function refresh() {
    const result = await UI.api(url(), { etag });
    const now = new Date().toLocaleTimeString();
    if (result.status === 304) {
      updated.textContent = `Checked at ${now}: unchanged.`;
      updated.dataset.unchanged = String(Number(updated.dataset.unchanged || 0) + 1);
      return true;
    }
    etag = result.etag;
    board = result.data;
    UI.showError(null);
    renderContext();
    renderTable();
    renderChart();
    updated.textContent = `Updated at ${now}; checked again every ${POLL_MS / 1000} s.`;
    return true;
  }

  /* ---- pickers: the protocols and judges with completed evaluations on this suite ---- */

  const protocolPicker = document.getElementById("board-protocol");
  const judgePicker = document.getElementById("board-judge");
  const note = document.getElementById("pickers-note");
  const MAX_PAGES = 20;
  let boards = null;  // protocol → sorted judges

  async function findBoards() {
    const found = new Map();
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ suite, status: "completed", limit: "500" });
      if (cursor) query.set("cursor", cursor);
      const { data } = await UI.api(`/v1/evaluations?${query}`);
      for (const e of data.data) {
        if (e.leaderboard === false) continue;  // never on a leaderboard
        if (!found.has(e.protocol)) found.set(e.protocol, new Set());
        found.get(e.protocol).add(e.judge);
      }
      cursor = data.next_cursor;
      if (!cursor) break;
    }
    return new Map([...found].map(([p, judges]) => [p, [...judges].sort()]));
  }

  function fillJudges() {
    const judges = (boards && boards.get(protocolPicker.value)) || [];
    const current = judgePicker.value || judge || "";
    clear(judgePicker).append(el("option", { value: "", text: judges.length > 1 ? "choose a judge" : "(the only one)" }));
    for (const j of new Set([...judges, ...(current && !judges.length ? [current] : [])])) {
      judgePicker.append(el("option", { value: j, text: j, selected: j === current }));
    }
  }

  function fillPickers() {
    const names = [...new Set([...boards.keys(), protocol])];
    clear(protocolPicker);
    for (const p of names) {
      const judges = boards.get(p) || [];
      protocolPicker.append(el("option", { value: p, selected: p === protocol,
        text: judges.length ? `${p} (${judges.length} judge${judges.length > 1 ? "s" : ""})` : p }));
    }
    fillJudges();
  }
  protocolPicker.addEventListener("change", fillJudges);

  /* The leaderboard call answered 422: several judges have a board here. Offer them instead of an error. */
  function chooseJudge(error) {
    const judges = (boards && boards.get(protocol)) || [];
    clear(note).append(
      el("strong", { text: "Several judges have a leaderboard for this suite and protocol. " }),
      judges.length ? `Choose one of ${judges.join(", ")} in the Judge list, then Show.`
        : ((error && error.message) || "Choose a judge."));
    note.hidden = false;
    judgePicker.focus();
  }

  document.getElementById("csv-download").addEventListener("click", () => {
    const query = new URLSearchParams({ protocol, runs: runs || "latest" });
    const chosen = judge || (board && board.judge);
    if (chosen) query.set("judge", chosen);
    const name = [suite, protocol, chosen].filter(Boolean).join("-").replace(/[^0-9A-Za-z._-]/g, "_");
    UI.download(`/v1/leaderboards/${encodeURIComponent(suite)}?${query}`, "text/csv", `${name}.csv`)
      .then(() => UI.say(`Downloaded ${name}.csv.`)).catch(UI.fail);
  });

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (board) renderChart(); }, 150);
  });

  UI.start(async () => {
    try {
      boards = await findBoards();
      fillPickers();
    } catch (error) { UI.fail(error); }
    // several judges and none chosen: the leaderboard call would answer 422, so offer the judges right away
    if (!judge && boards && (boards.get(protocol) || []).length > 1) { chooseJudge(null); return; }
    UI.poll(async () => {
      try {
        return await refresh();
      } catch (error) {
        if (error.status === 404) {
          UI.say("No leaderboard yet: it appears when an evaluation on this suite completes. Still checking.");
          return true;
        }
        if (error.status === 422 && !judge) { chooseJudge(error); return false; }
        if (error.status === 401) return false;
        throw error;
      }
    }, POLL_MS);
  });
})();
