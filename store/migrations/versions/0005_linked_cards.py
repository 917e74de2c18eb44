"""linked cards: a patron acting for family members' cards

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'card_link',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('owner_key', sa.String(length=64), nullable=False),
        sa.Column('owner_name', sa.String(length=200), nullable=False),
        sa.Column('linked_key', sa.String(length=64), nullable=False),
        sa.Column('linked_card', sa.String(length=64), nullable=False),
        sa.Column('linked_name', sa.String(length=200), nullable=False),
        sa.Column('notify_owner', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('owner_key', 'linked_key', name='uq_card_link_pair'),
    )
    op.create_index('ix_card_link_owner_key', 'card_link', ['owner_key'])
    op.create_index('ix_card_link_linked_key', 'card_link', ['linked_key'])


def downgrade():
    op.drop_index('ix_card_link_linked_key', table_name='card_link')
    op.drop_index('ix_card_link_owner_key', table_name='card_link')
    op.drop_table('card_link')
