"""A leaderboard as CSV (``Accept: text/csv``): one row per model, as AlpacaEval users load it into a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import Any

# CSV cells starting with these are formulas in spreadsheets: a model name like "=HYPERLINK(…)" must stay text
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def leaderboard_csv(body: dict[str, Any]) -> str:
    """The leaderboard's rows as CSV: rank and rank range, model, metric with its interval, n, Elo, the
    protocol's columns, the mean response length, and where each row came from."""
    metric = body.get("metric") or "value"
    columns = list(body.get("columns") or [])
    header = ["rank", "rank_best", "rank_worst", "model", metric, f"{metric}_ci95_low", f"{metric}_ci95_high", "n"]
    ranked = body.get("ranked_by") is not None
    if ranked:
        header += ["elo", "elo_ci95_low", "elo_ci95_high"]
    extra = [c for c in columns if c not in header and c != "avg_length"]
    header += extra + ["avg_length", "baseline_model", "evaluation_id", "completed_at"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in body.get("rows", []):
        ci, elo_ci = _pair(row.get("ci95")), _pair(row.get("elo_ci95"))
        cells = [row.get("rank"), row.get("rank_best"), row.get("rank_worst"), row.get("model"), row.get("value"),
                 ci[0], ci[1], row.get("n")]
        if ranked:
            cells += [row.get("elo"), elo_ci[0], elo_ci[1]]
        cells += [row.get(c) for c in extra]
        cells += [row.get("avg_length"), row.get("baseline_model"), row.get("evaluation_id"), row.get("completed_at")]
        writer.writerow([_cell(value) for value in cells])
    return out.getvalue()


def _pair(value: Any) -> tuple[Any, Any]:
    return (value[0], value[1]) if isinstance(value, (list, tuple)) and len(value) == 2 else (None, None)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
