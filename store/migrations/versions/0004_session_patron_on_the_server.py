"""login sessions hold their patron (the cookie holds only the session id)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # A session registered before has no patron here (it was in the cookie): it ends, and the patron
    # logs in again once after the upgrade.
    op.execute(sa.text('DELETE FROM login_session'))
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_number', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('display_name', sa.String(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    op.execute(sa.text('DELETE FROM login_session'))
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('display_name')
        batch_op.drop_column('card_number')
