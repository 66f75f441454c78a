"""The schema comes from Alembic only, and the migrations match the ORM models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.db.engine import get_engine
from service.db.migrate import upgrade
from service.models import Base


def test_migrated_postgres_matches_the_models(pg_url):
    with get_engine(pg_url).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_migrations_run_on_sqlite_and_match_the_models(tmp_path):
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)
    with get_engine(url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert set(Base.metadata.tables) <= set(inspect(connection).get_table_names())


def test_existing_rows_move_to_the_default_project_and_back(tmp_path):
    """0004 → head keeps evaluations, suites and leaderboard snapshots (in project "default"), and back."""
    from alembic import command
    from sqlalchemy import text

    from service.db.migrate import alembic_config
    from service.models import DEFAULT_PROJECT_ID

    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0004")
    with get_engine(url).begin() as connection:
        connection.execute(text(
            "INSERT INTO evaluations (id, protocol, judge, model, options, status, total, done, failed, chunks_total, "
            "chunks_done, created_at) VALUES ('e1', 'pairwise', 'j', 'm', '{}', 'completed', 0, 0, 0, 0, 0, '2026-01-01')"))
        connection.execute(text("INSERT INTO suites (id, name, version, n_items, created_at) "
                                "VALUES ('s1', 'bench', 1, 0, '2026-01-01')"))
        connection.execute(text("INSERT INTO leaderboard_snapshots (suite, protocol, judge, etag, body, computed_at) "
                                "VALUES ('bench', 'pairwise', 'j', 'x', '{\"rows\": []}', '2026-01-01')"))
    upgrade(url)
    with get_engine(url).connect() as connection:
        assert connection.execute(text("SELECT project_id FROM evaluations")).scalar() == DEFAULT_PROJECT_ID
        assert connection.execute(text("SELECT project_id FROM suites")).scalar() == DEFAULT_PROJECT_ID
        row = connection.execute(text("SELECT project_id, etag FROM leaderboard_snapshots")).one()
        assert tuple(row) == (DEFAULT_PROJECT_ID, "x")
        assert connection.execute(text("SELECT name FROM projects")).scalar() == "default"
    command.downgrade(alembic_config(url), "0004")
    with get_engine(url).connect() as connection:
        assert connection.execute(text("SELECT etag FROM leaderboard_snapshots")).scalar() == "x"
        assert connection.execute(text("SELECT count(*) FROM evaluations")).scalar() == 1


def test_0008_swaps_the_project_index_for_the_listing_index_and_back(tmp_path):
    from alembic import command

    from service.db.migrate import alembic_config

    url = f"sqlite:///{tmp_path}/m.db"

    def indexes() -> set[str]:
        with get_engine(url).connect() as connection:
            return {index["name"] for index in inspect(connection).get_indexes("evaluations")}

    upgrade(url)
    assert "ix_evaluations_project_id_created_at_id" in indexes() and "ix_evaluations_project_id" not in indexes()
    command.downgrade(alembic_config(url), "0007")
    assert "ix_evaluations_project_id" in indexes() and "ix_evaluations_project_id_created_at_id" not in indexes()
    upgrade(url)
    assert "ix_evaluations_project_id_created_at_id" in indexes()


def test_0010_keeps_older_cache_entries_as_global_ones_and_drops_project_ones_on_the_way_back(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from service.db.migrate import alembic_config
    from service.models import DEFAULT_PROJECT_ID

    url = f"sqlite:///{tmp_path}/cache.db"
    columns = "key, fingerprint, text, prompt_tokens, completion_tokens, created_at"
    upgrade(url, "0009")
    with get_engine(url).begin() as connection:
        connection.execute(text(f"INSERT INTO judge_cache ({columns}) VALUES ('old', 'f', 'A', 1, 1, '2026-01-01')"))
    upgrade(url, "0010")
    with get_engine(url).begin() as connection:
        assert connection.execute(text("SELECT key, project_id FROM judge_cache")).all() == [("old", None)]
        connection.execute(text(f"INSERT INTO judge_cache ({columns}, project_id) "
                                f"VALUES ('bound', 'f', 'A', 1, 1, '2026-01-01', '{DEFAULT_PROJECT_ID}')"))
    command.downgrade(alembic_config(url), "0009")
    with get_engine(url).connect() as connection:
        assert connection.execute(text("SELECT key FROM judge_cache")).scalars().all() == ["old"]


def test_0012_keeps_judge_cache_entries_and_copies_keyed_judgments_back_on_the_way_down(tmp_path):
    """0011 → 0012: judge_cache rows stay (they are still read); 0012 → 0011: each keyed successful judgment
    that judge_cache lacks becomes an entry of its evaluation's project, so no cached call is lost."""
    from alembic import command
    from sqlalchemy import text

    from service.db.migrate import alembic_config
    from service.models import DEFAULT_PROJECT_ID

    url = f"sqlite:///{tmp_path}/keys.db"
    entry_columns = "key, fingerprint, text, prompt_tokens, completion_tokens, created_at"
    upgrade(url, "0011")
    with get_engine(url).begin() as connection:
        connection.execute(text(f"INSERT INTO judge_cache ({entry_columns}) VALUES ('old', 'f', 'A', 1, 1, '2026-01-01')"))
    upgrade(url, "0012")
    with get_engine(url).begin() as connection:
        assert connection.execute(text("SELECT key, text FROM judge_cache")).all() == [("old", "A")]
        assert "ix_judgments_cache_key" in {i["name"] for i in inspect(connection).get_indexes("judgments")}
        connection.execute(text(
            "INSERT INTO evaluations (id, project_id, protocol, judge, model, options, status, total, done, failed, "
            f"chunks_total, chunks_done, created_at) VALUES ('e1', '{DEFAULT_PROJECT_ID}', 'pairwise', 'j', 'm', '{{}}', "
            "'completed', 4, 4, 0, 1, 1, '2026-01-01')"))
        for item in range(4):
            connection.execute(text(f"INSERT INTO items (id, evaluation_id, position, item_key, payload) "
                                    f"VALUES ({item + 1}, 'e1', {item}, 'i{item}', '{{}}')"))
        judgments = [  # (item, key, output, error): one key twice (the first row's output is copied), one failed
            (1, "k1", "1", None), (2, "k1", "2", None), (3, "old", "B", None), (4, None, "", "boom")]
        for item, key, output, error in judgments:
            connection.execute(text(
                "INSERT INTO judgments (evaluation_id, item_id, \"order\", sample, prompt_hash, raw_output, fingerprint, "
                "prompt_tokens, completion_tokens, latency_ms, error, verdict_top_logprobs, cache_key, created_at) "
                "VALUES ('e1', :item, 'ab', 0, 'h', :output, 'f', 3, 1, 0, :error, '{\"1\": -0.5}', :key, '2026-01-02')"),
                {"item": item, "output": output, "error": error, "key": key})
    command.downgrade(alembic_config(url), "0011")
    with get_engine(url).connect() as connection:
        rows = connection.execute(text("SELECT key, project_id, text, verdict_top_logprobs, prompt_tokens "
                                       "FROM judge_cache ORDER BY key")).all()
        assert [tuple(row) for row in rows] == [("k1", DEFAULT_PROJECT_ID, "1", '{"1": -0.5}', 3),
                                                ("old", None, "A", None, 1)]
        assert "cache_key" not in {c["name"] for c in inspect(connection).get_columns("judgments")}
    upgrade(url)


def test_0013_drops_the_evaluation_keys_of_calls_and_their_rows_still_go_with_the_evaluation(tmp_path):
    """0012 → 0013: judgments and verdicts keep only their item's foreign key; deleting an evaluation still
    removes them (through its items). 0013 → 0012: the keys to evaluations are back."""
    from alembic import command
    from sqlalchemy import text

    from service.db.migrate import alembic_config
    from service.models import DEFAULT_PROJECT_ID

    def evaluation_keys(connection) -> dict[str, list[str]]:
        return {table: [k["name"] for k in inspect(connection).get_foreign_keys(table)
                        if k["referred_table"] == "evaluations"] for table in ("judgments", "verdicts")}

    url = f"sqlite:///{tmp_path}/keys.db"
    upgrade(url)
    with get_engine(url).begin() as connection:
        assert evaluation_keys(connection) == {"judgments": [], "verdicts": []}
        connection.execute(text(
            "INSERT INTO evaluations (id, project_id, protocol, judge, model, options, status, total, done, failed, "
            f"chunks_total, chunks_done, created_at) VALUES ('e1', '{DEFAULT_PROJECT_ID}', 'pairwise', 'j', 'm', '{{}}', "
            "'completed', 1, 1, 0, 1, 1, '2026-01-01')"))
        connection.execute(text("INSERT INTO items (id, evaluation_id, position, item_key, payload) "
                                "VALUES (1, 'e1', 0, 'i0', '{}')"))
        connection.execute(text(
            "INSERT INTO judgments (evaluation_id, item_id, \"order\", sample, prompt_hash, raw_output, fingerprint, "
            "prompt_tokens, completion_tokens, latency_ms, created_at) "
            "VALUES ('e1', 1, 'ab', 0, 'h', '1', 'f', 3, 1, 0, '2026-01-02')"))
        connection.execute(text(
            "INSERT INTO verdicts (item_id, evaluation_id, unscored, failed, position_inconsistent, needs_review, "
            "details, created_at) VALUES (1, 'e1', 0, 0, 0, 0, '{}', '2026-01-02')"))
    command.downgrade(alembic_config(url), "0012")
    with get_engine(url).begin() as connection:
        assert evaluation_keys(connection) == {"judgments": ["fk_judgments_evaluation_id_evaluations"],
                                               "verdicts": ["fk_verdicts_evaluation_id_evaluations"]}
    upgrade(url)
    with get_engine(url).begin() as connection:
        connection.execute(text("DELETE FROM evaluations WHERE id = 'e1'"))
        left = [connection.scalar(text(f"SELECT count(*) FROM {table}")) for table in ("items", "judgments", "verdicts")]
    assert left == [0, 0, 0]
