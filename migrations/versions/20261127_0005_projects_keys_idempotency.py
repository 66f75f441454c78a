"""projects, API keys and idempotency keys; every evaluation, suite and leaderboard belongs to a project

Rows that exist already move to the project "default".

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 23:30:00
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

DEFAULT_ID = '00000000-0000-0000-0000-000000000000'
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    projects = op.create_table('projects',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.bulk_insert(projects, [{'id': DEFAULT_ID, 'name': 'default', 'created_at': datetime.now(timezone.utc)}])
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_api_keys_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    op.create_index(op.f('ix_api_keys_project_id'), 'api_keys', ['project_id'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('method_path', sa.String(length=512), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', JSON_DOC, nullable=True),
    sa.Column('response_headers', JSON_DOC, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_idempotency_keys_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_index(op.f('ix_idempotency_keys_expires_at'), 'idempotency_keys', ['expires_at'], unique=False)

    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_id', sa.String(length=36), nullable=False, server_default=DEFAULT_ID))
        batch_op.create_index(batch_op.f('ix_evaluations_project_id'), ['project_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_evaluations_project_id_projects'), 'projects', ['project_id'], ['id'],
                                    ondelete='CASCADE')
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.alter_column('project_id', server_default=None)

    with op.batch_alter_table('suites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_id', sa.String(length=36), nullable=False, server_default=DEFAULT_ID))
        batch_op.drop_constraint('uq_suites_name_version', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_suites_project_id_name_version'), ['project_id', 'name', 'version'])
        batch_op.create_index(batch_op.f('ix_suites_project_id'), ['project_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_suites_project_id_projects'), 'projects', ['project_id'], ['id'],
                                    ondelete='CASCADE')
    with op.batch_alter_table('suites', schema=None) as batch_op:
        batch_op.alter_column('project_id', server_default=None)

    # the snapshots' primary key gains the project: the (few) rows are read, the table remade, the rows
    # put back into "default" (constraint names must stay the same, so no rename-and-copy)
    rows = [dict(row) for row in op.get_bind().execute(sa.select(_snapshots())).mappings()]
    op.drop_table('leaderboard_snapshots')
    snapshots = op.create_table('leaderboard_snapshots',
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('suite', sa.String(length=128), nullable=False),
    sa.Column('protocol', sa.String(length=32), nullable=False),
    sa.Column('judge', sa.String(length=64), nullable=False),
    sa.Column('etag', sa.String(length=64), nullable=False),
    sa.Column('body', JSON_DOC, nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_leaderboard_snapshots_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'suite', 'protocol', 'judge', name=op.f('pk_leaderboard_snapshots'))
    )
    if rows:
        op.bulk_insert(snapshots, [{**row, 'project_id': DEFAULT_ID} for row in rows])


def _snapshots(*extra):
    """The snapshot columns, typed, for reading rows back (dates and JSON parsed on SQLite too)."""
    return sa.table('leaderboard_snapshots', *extra, sa.column('suite', sa.String()), sa.column('protocol', sa.String()),
                    sa.column('judge', sa.String()), sa.column('etag', sa.String()), sa.column('body', JSON_DOC),
                    sa.column('computed_at', sa.DateTime(timezone=True)))


def downgrade() -> None:
    table = _snapshots(sa.column('project_id', sa.String()))
    query = sa.select(*[c for c in table.c if c.name != 'project_id']).where(table.c.project_id == DEFAULT_ID)
    rows = [dict(row) for row in op.get_bind().execute(query).mappings()]
    op.drop_table('leaderboard_snapshots')
    snapshots = op.create_table('leaderboard_snapshots',
    sa.Column('suite', sa.String(length=128), nullable=False),
    sa.Column('protocol', sa.String(length=32), nullable=False),
    sa.Column('judge', sa.String(length=64), nullable=False),
    sa.Column('etag', sa.String(length=64), nullable=False),
    sa.Column('body', JSON_DOC, nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('suite', 'protocol', 'judge', name=op.f('pk_leaderboard_snapshots'))
    )
    if rows:
        op.bulk_insert(snapshots, rows)
    with op.batch_alter_table('suites', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_suites_project_id_projects'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_suites_project_id'))
        batch_op.drop_constraint(batch_op.f('uq_suites_project_id_name_version'), type_='unique')
        batch_op.create_unique_constraint('uq_suites_name_version', ['name', 'version'])
        batch_op.drop_column('project_id')
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_evaluations_project_id_projects'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_evaluations_project_id'))
        batch_op.drop_column('project_id')
    op.drop_index(op.f('ix_idempotency_keys_expires_at'), table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.drop_index(op.f('ix_api_keys_project_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('projects')
