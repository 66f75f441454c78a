"""idempotency_keys.owner: the token of the request that holds a key, so only it can finish or free it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 04:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.add_column(sa.Column('owner', sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.drop_column('owner')
