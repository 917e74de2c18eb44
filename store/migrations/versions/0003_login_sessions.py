"""login sessions registered on the server

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_session',
        sa.Column('session_id', sa.String(length=64), nullable=False),
        sa.Column('patron_key', sa.String(length=64), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('session_id'),
    )
    op.create_index('ix_login_session_patron_key', 'login_session', ['patron_key'])


def downgrade():
    op.drop_index('ix_login_session_patron_key', table_name='login_session')
    op.drop_table('login_session')
