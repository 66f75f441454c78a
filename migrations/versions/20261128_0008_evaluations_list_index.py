"""evaluations: one index (project_id, created_at, id) for listing a project's evaluations newest first;
it replaces ix_evaluations_project_id, which is its prefix

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 04:00:00
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_evaluations_project_id_created_at_id'), 'evaluations',
                    ['project_id', 'created_at', 'id'], unique=False)
    op.drop_index(op.f('ix_evaluations_project_id'), table_name='evaluations')


def downgrade() -> None:
    op.create_index(op.f('ix_evaluations_project_id'), 'evaluations', ['project_id'], unique=False)
    op.drop_index(op.f('ix_evaluations_project_id_created_at_id'), table_name='evaluations')
