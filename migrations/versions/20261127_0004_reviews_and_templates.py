"""review queue, template versions, longer call keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 23:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('reviews',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('evaluation_id', sa.String(length=36), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('bpde', sa.Float(), nullable=True),
    sa.Column('label', JSON_DOC, nullable=True),
    sa.Column('reviewer', sa.String(length=256), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_reviews_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_reviews_item_id_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('item_id', name=op.f('uq_reviews_item_id'))
    )
    op.create_index(op.f('ix_reviews_evaluation_id'), 'reviews', ['evaluation_id'], unique=False)
    op.create_index('ix_reviews_status_bpde', 'reviews', ['status', 'bpde'], unique=False)
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.alter_column('order', existing_type=sa.String(length=8), type_=sa.String(length=64),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('template', sa.String(length=64), server_default='', nullable=False))
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reviewed', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.drop_column('reviewed')
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.drop_column('template')
        batch_op.alter_column('order', existing_type=sa.String(length=64), type_=sa.String(length=8),
                              existing_nullable=False)
    op.drop_index('ix_reviews_status_bpde', table_name='reviews')
    op.drop_index(op.f('ix_reviews_evaluation_id'), table_name='reviews')
    op.drop_table('reviews')
