"""Set-based SQL that fills one suite's judging history (no Python loops over rows).

Every statement takes the psycopg parameters ``suite``, ``judge``, ``n_models``, ``n_items``,
``fingerprint`` and ``t0``. Models are ``m000``.. (A) against the baseline ``ref`` (B); every item is
judged once in each order (``ab``, ``ba``), so a suite holds ``n_models * n_items * 2`` judgments.
Scores come from a deterministic formula: model strength, a position bias towards the first slot
and a length bias towards the longer response, thresholded against a hash of (item, model, order).
"""

from __future__ import annotations

# Session-scoped helpers (pg_temp): uniform hash, text lengths, per-call preference for A.
FUNCTIONS = [
    """CREATE FUNCTION pg_temp.bench_u(a int, b int, salt text) RETURNS float8 LANGUAGE sql IMMUTABLE AS
       $$ SELECT ((hashtext(a || ':' || b || ':' || salt)::bigint + 2147483648) / 4294967296.0)::float8 $$""",
    """CREATE FUNCTION pg_temp.bench_len(p int, m int, salt text, lo int, span int) RETURNS int
       LANGUAGE sql IMMUTABLE AS $$ SELECT lo + floor(pg_temp.bench_u(p, m, salt) * span)::int $$""",
    """CREATE FUNCTION pg_temp.bench_pref(p int, m int, n_models int, ord text, len_diff int) RETURNS float8
       LANGUAGE sql IMMUTABLE AS $$
       SELECT (CASE WHEN u < t - 0.04 THEN 1.0 WHEN u < t + 0.04 THEN 0.5 ELSE 0.0 END)::float8
       FROM (SELECT pg_temp.bench_u(p, m, ord) AS u,
                    0.2 + 0.6 * m / greatest(n_models - 1, 1)
                    + CASE ord WHEN 'ab' THEN 0.05 ELSE -0.05 END
                    + 0.1 * tanh(len_diff / 500.0) AS t) AS x $$""",
    """CREATE FUNCTION pg_temp.bench_outcome(pref float8) RETURNS text LANGUAGE sql IMMUTABLE AS
       $$ SELECT CASE WHEN pref > 0.55 THEN 'a' WHEN pref < 0.45 THEN 'b' ELSE 'tie' END $$""",
]

SUITE = """
INSERT INTO suites (id, project_id, name, version, description, baseline_model, n_items, created_at)
VALUES (md5(%(suite)s::text)::uuid::text, %(project)s::text, %(suite)s::text, 1, 'latency benchmark suite', 'ref',
        %(n_items)s::int, %(t0)s::timestamptz)
"""

SUITE_ITEMS = """
INSERT INTO suite_items (suite_id, position, item_key, category, payload)
SELECT md5(%(suite)s::text)::uuid::text, p, format('item-%%s', lpad(p::text, 6, '0')), c,
       jsonb_build_object(
         'prompt', rpad(format('Item %%s: explain the following. ', p),
                        pg_temp.bench_len(p, 0, 'prompt', 40, 400), 'Consider the trade-offs carefully. '),
         'baseline_response', rpad(format('Baseline answer to item %%s. ', p),
                                   pg_temp.bench_len(p, 0, 'b', 50, 1500), 'The reference model answers plainly. '),
         'category', c)
FROM generate_series(0, %(n_items)s::int - 1) AS p,
     LATERAL (SELECT (ARRAY['writing', 'reasoning', 'coding', 'math', 'roleplay'])[1 + p %% 5] AS c) AS cat
"""

EVALUATIONS = """
INSERT INTO evaluations (id, project_id, protocol, judge, model, suite, suite_version, baseline_model, options,
                         status, error, total, done, failed, chunks_total, chunks_done, summary, reliability,
                         created_at, started_at, completed_at)
SELECT md5(%(suite)s::text || '/' || m)::uuid::text, %(project)s::text, 'pairwise', %(judge)s::text,
       format('m%%s', lpad(m::text, 3, '0')), %(suite)s::text, 1, 'ref', '{"seed": 0}'::jsonb, 'completed',
       NULL, %(n_items)s::int, %(n_items)s::int, 0, ceil(%(n_items)s::int / 32.0)::int,
       ceil(%(n_items)s::int / 32.0)::int, NULL, NULL,
       %(t0)s::timestamptz + m * interval '1 hour',
       %(t0)s::timestamptz + m * interval '1 hour' + interval '1 second',
       %(t0)s::timestamptz + m * interval '1 hour' + interval '20 minutes'
FROM generate_series(0, %(n_models)s::int - 1) AS m
"""

ITEMS = """
INSERT INTO items (evaluation_id, position, item_key, payload)
SELECT e.id, si.position, si.item_key,
       (si.payload - 'baseline_response') || jsonb_build_object(
         'id', si.item_key,
         'response_a', rpad(format('Model %%s answer to item %%s. ', e.model, si.position),
                            pg_temp.bench_len(si.position, substr(e.model, 2)::int, 'a', 50, 1500),
                            'A candidate answer with a little more detail. '),
         'response_b', si.payload ->> 'baseline_response')
FROM evaluations e
JOIN suite_items si ON si.suite_id = md5(%(suite)s::text)::uuid::text
WHERE e.suite = %(suite)s::text
"""

# One row per judge call: (item, order) with its preference for A.
CALLS = """
CREATE TEMP TABLE bench_calls ON COMMIT DROP AS
SELECT i.id AS item_id, i.evaluation_id, o.ord,
       pg_temp.bench_pref(i.position, substr(e.model, 2)::int, %(n_models)s::int, o.ord,
                          length(i.payload ->> 'response_a') - length(i.payload ->> 'response_b')) AS pref
FROM items i JOIN evaluations e ON e.id = i.evaluation_id
CROSS JOIN (VALUES ('ab'), ('ba')) AS o(ord)
WHERE e.suite = %(suite)s::text
"""

JUDGMENTS = """
INSERT INTO judgments (evaluation_id, item_id, "order", sample, prompt_hash, raw_output, rationale, label,
                       label_probs, fingerprint, prompt_tokens, completion_tokens, latency_ms, error, created_at)
SELECT evaluation_id, item_id, ord, 0, md5(item_id || ord) || md5(ord || item_id), label, NULL, label,
       jsonb_build_object('1', CASE label WHEN '1' THEN 0.8 ELSE 0.1 END,
                          '2', CASE label WHEN '2' THEN 0.8 ELSE 0.1 END,
                          'tie', CASE label WHEN 'tie' THEN 0.8 ELSE 0.1 END),
       %(fingerprint)s::text, 120 + (item_id %% 900)::int, 1, 15.0 + (item_id %% 70), NULL, %(t0)s::timestamptz
FROM (SELECT *, CASE WHEN pref = 0.5 THEN 'tie' WHEN (pref = 1.0) = (ord = 'ab') THEN '1' ELSE '2' END AS label
      FROM bench_calls) AS c
"""

VERDICTS = """
INSERT INTO verdicts (item_id, evaluation_id, outcome, score, unscored, failed, position_inconsistent,
                      needs_review, bpde, details, created_at)
SELECT item_id, evaluation_id, pg_temp.bench_outcome((p_ab + p_ba) / 2), (p_ab + p_ba) / 2, false, false,
       pg_temp.bench_outcome(p_ab) <> pg_temp.bench_outcome(p_ba), false,
       CASE WHEN pg_temp.bench_outcome(p_ab) = pg_temp.bench_outcome(p_ba) THEN 0.0 ELSE ln(2.0) END,
       jsonb_build_object(
         'calls', jsonb_build_array(
           jsonb_build_object('order', 'ab', 'sample', 0, 'outcome', pg_temp.bench_outcome(p_ab), 'preference', p_ab),
           jsonb_build_object('order', 'ba', 'sample', 0, 'outcome', pg_temp.bench_outcome(p_ba), 'preference', p_ba)),
         'order_majority', jsonb_build_object('ab', pg_temp.bench_outcome(p_ab), 'ba', pg_temp.bench_outcome(p_ba))),
       %(t0)s::timestamptz
FROM (SELECT item_id, evaluation_id, max(pref) FILTER (WHERE ord = 'ab') AS p_ab,
             max(pref) FILTER (WHERE ord = 'ba') AS p_ba
      FROM bench_calls GROUP BY item_id, evaluation_id) AS v
"""

SUMMARIES = """
UPDATE evaluations e
SET summary = jsonb_build_object(
      'metric', 'win_rate', 'n_items', s.n, 'n_scored', s.n, 'n_unscored', 0, 'win_rate', s.wr,
      'win_rate_ci95', jsonb_build_array(greatest(0.0, s.wr - s.half), least(1.0, s.wr + s.half)),
      'wins', s.wins, 'losses', s.losses, 'ties', s.n - s.wins - s.losses),
    reliability = jsonb_build_object('n_items', s.n, 'position_inconsistent', s.inconsistent,
                                     'position_consistency', 1.0 - s.inconsistent::float8 / s.n)
FROM (SELECT evaluation_id, count(*) AS n, avg(score) AS wr,
             1.96 * coalesce(stddev_samp(score), 0) / sqrt(count(*)) AS half,
             count(*) FILTER (WHERE outcome = 'a') AS wins, count(*) FILTER (WHERE outcome = 'b') AS losses,
             count(*) FILTER (WHERE position_inconsistent) AS inconsistent
      FROM verdicts v JOIN evaluations x ON x.id = v.evaluation_id
      WHERE x.suite = %(suite)s::text GROUP BY evaluation_id) AS s
WHERE e.id = s.evaluation_id
"""

FILL_STEPS = [("suites", SUITE), ("suite_items", SUITE_ITEMS), ("evaluations", EVALUATIONS), ("items", ITEMS),
              ("calls", CALLS), ("judgments", JUDGMENTS), ("verdicts", VERDICTS), ("summaries", SUMMARIES)]

COUNTS = """
SELECT (SELECT count(*) FROM evaluations WHERE suite = %(suite)s::text AND status = 'completed'),
       (SELECT count(*) FROM items i JOIN evaluations e ON e.id = i.evaluation_id WHERE e.suite = %(suite)s::text),
       (SELECT count(*) FROM judgments j JOIN evaluations e ON e.id = j.evaluation_id
         WHERE e.suite = %(suite)s::text),
       (SELECT count(*) FROM verdicts v JOIN evaluations e ON e.id = v.evaluation_id
         WHERE e.suite = %(suite)s::text),
       (SELECT count(*) FROM judgments),
       pg_database_size(current_database())
"""
