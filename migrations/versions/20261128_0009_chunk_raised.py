"""chunks.raised: how many starts of a chunk raised an error that was not an outage (the give-up counts these)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 05:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chunks') as batch:
        batch.add_column(sa.Column('raised', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('chunks') as batch:
        batch.drop_column('raised')
