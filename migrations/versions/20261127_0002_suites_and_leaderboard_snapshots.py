"""suites and leaderboard snapshots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:56:56.661927
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leaderboard_snapshots',
    sa.Column('suite', sa.String(length=128), nullable=False),
    sa.Column('protocol', sa.String(length=32), nullable=False),
    sa.Column('judge', sa.String(length=64), nullable=False),
    sa.Column('etag', sa.String(length=64), nullable=False),
    sa.Column('body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('suite', 'protocol', 'judge', name=op.f('pk_leaderboard_snapshots'))
    )
    op.create_table('suites',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('baseline_model', sa.String(length=256), nullable=True),
    sa.Column('n_items', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suites')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_suites_name_version'))
    )
    with op.batch_alter_table('suites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suites_name'), ['name'], unique=False)

    op.create_table('suite_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('suite_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=256), nullable=False),
    sa.Column('category', sa.String(length=128), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['suite_id'], ['suites.id'], name=op.f('fk_suite_items_suite_id_suites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suite_items')),
    sa.UniqueConstraint('suite_id', 'item_key', name=op.f('uq_suite_items_suite_id_item_key')),
    sa.UniqueConstraint('suite_id', 'position', name=op.f('uq_suite_items_suite_id_position'))
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suite_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('baseline_model', sa.String(length=256), nullable=True))
        batch_op.create_index(batch_op.f('ix_evaluations_suite'), ['suite'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluations_suite'))
        batch_op.drop_column('baseline_model')
        batch_op.drop_column('suite_version')

    op.drop_table('suite_items')
    with op.batch_alter_table('suites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suites_name'))

    op.drop_table('suites')
    op.drop_table('leaderboard_snapshots')
