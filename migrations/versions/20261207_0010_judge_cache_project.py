"""judge_cache.project_id: whose cached judge call it is (the key is bound to the project; NULL = any project's)

Cache keys now include the project unless the judge says ``cache_scope: global``. The entries made
before carry no project and cannot be given one: an entry stores neither its prompt hash nor its
sampling, so the evaluations that made it cannot be found. They are kept as they are, with
project_id NULL, i.e. as global entries: a ``cache_scope: global`` judge keeps hitting them; a judge
with the default per-project scope does not read them (serving them to every project is the leak
this change closes) and judges those calls again once per project. Deleting a project deletes its
entries.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('judge_cache') as batch:
        batch.add_column(sa.Column('project_id', sa.String(length=36), nullable=True))
        batch.create_index(batch.f('ix_judge_cache_project_id'), ['project_id'], unique=False)
        batch.create_foreign_key(batch.f('fk_judge_cache_project_id_projects'), 'projects', ['project_id'], ['id'],
                                 ondelete='CASCADE')


def downgrade() -> None:
    # project-bound entries are unreachable without the project in the key's computation: drop them
    op.execute("DELETE FROM judge_cache WHERE project_id IS NOT NULL")
    with op.batch_alter_table('judge_cache') as batch:
        batch.drop_constraint(batch.f('fk_judge_cache_project_id_projects'), type_='foreignkey')
        batch.drop_index(batch.f('ix_judge_cache_project_id'))
        batch.drop_column('project_id')
