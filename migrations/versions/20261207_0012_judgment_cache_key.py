"""judgments.cache_key and judgments.verdict_top_logprobs: a judgment row is the judge-call cache's entry

A fresh, successful judge call was written twice: as its judgment and as a judge_cache row with the
same output. From here on it is written once: its judgment row carries the call's stored cache key
(indexed, only where set) and the verdict's top logprobs, which is all a cache hit needs.

judge_cache is kept as it is, and read: its entries were stored under keys computed by the same
formula, so they keep hitting (nothing new is written to it). Downgrading copies every keyed judgment
that judge_cache does not hold yet into it, so no cached call is lost either way; a copied entry
belongs to the project of the evaluation that made it (for a ``cache_scope: global`` judge that
only means it goes when that project is deleted).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

KEYED = sa.text('cache_key IS NOT NULL')


def upgrade() -> None:
    with op.batch_alter_table('judgments') as batch:
        batch.add_column(sa.Column('verdict_top_logprobs', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'),
                                   nullable=True))
        batch.add_column(sa.Column('cache_key', sa.String(length=64), nullable=True))
        batch.create_index('ix_judgments_cache_key', ['cache_key'], unique=False, postgresql_where=KEYED,
                           sqlite_where=KEYED)


def downgrade() -> None:
    # one entry per key (its first judgment); keys judge_cache already holds keep their entry
    op.execute(
        "INSERT INTO judge_cache (key, project_id, fingerprint, text, verdict_top_logprobs, rationale, "
        "prompt_tokens, completion_tokens, created_at) "
        "SELECT j.cache_key, e.project_id, j.fingerprint, j.raw_output, j.verdict_top_logprobs, j.rationale, "
        "j.prompt_tokens, j.completion_tokens, j.created_at "
        "FROM judgments j JOIN evaluations e ON e.id = j.evaluation_id "
        "WHERE j.id IN (SELECT min(id) FROM judgments WHERE cache_key IS NOT NULL AND error IS NULL "
        "GROUP BY cache_key) "
        "ON CONFLICT (key) DO NOTHING")
    with op.batch_alter_table('judgments') as batch:
        batch.drop_index('ix_judgments_cache_key')
        batch.drop_column('cache_key')
        batch.drop_column('verdict_top_logprobs')
