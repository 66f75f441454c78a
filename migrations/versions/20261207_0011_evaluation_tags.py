"""evaluations.tags (string tags set at submission) and evaluations.leaderboard (False: never a leaderboard row)

Existing evaluations get no tags and stay on their leaderboards.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('evaluations') as batch:
        batch.add_column(sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'),
                                   server_default='{}', nullable=False))
        batch.add_column(sa.Column('leaderboard', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('evaluations') as batch:
        batch.drop_column('leaderboard')
        batch.drop_column('tags')
