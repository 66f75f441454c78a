"""judge call cache

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 20:04:14.253754
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('judge_cache',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=256), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('verdict_top_logprobs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_judge_cache'))
    )
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cached', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.drop_column('cached')

    op.drop_table('judge_cache')
