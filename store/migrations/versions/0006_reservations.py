"""reservations: renew-window notices (preference.notify_renewable, renewal_watch) and series queues

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('preference', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_renewable', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        'renewal_watch',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('patron_key', sa.String(length=64), nullable=False),
        sa.Column('loan_id', sa.String(length=64), nullable=False),
        sa.Column('automatic', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('patron_key', 'loan_id', name='uq_renewal_watch_loan'),
    )
    op.create_index('ix_renewal_watch_patron_key', 'renewal_watch', ['patron_key'])
    op.create_table(
        'series_queue',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('patron_key', sa.String(length=64), nullable=False),
        sa.Column('series', sa.String(length=200), nullable=False),
        sa.Column('volume_number', sa.Integer(), nullable=False),
        sa.Column('volume_label', sa.String(length=32), nullable=False),
        sa.Column('record_id', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('pickup_location_id', sa.String(length=64), nullable=False),
        sa.Column('not_needed_after', sa.Date(), nullable=True),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=True),
        sa.Column('hold_id', sa.String(length=64), nullable=True),
        sa.Column('claimed_by', sa.String(length=32), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('placed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_series_queue_patron_key', 'series_queue', ['patron_key'])


def downgrade():
    op.drop_index('ix_series_queue_patron_key', table_name='series_queue')
    op.drop_table('series_queue')
    op.drop_index('ix_renewal_watch_patron_key', table_name='renewal_watch')
    op.drop_table('renewal_watch')
    with op.batch_alter_table('preference', schema=None) as batch_op:
        batch_op.drop_column('notify_renewable')
