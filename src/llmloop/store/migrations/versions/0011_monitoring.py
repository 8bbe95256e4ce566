"""monitoring: monitors and results, alert rules, alerts and notifications, triggers, embedding cache

Revision ID: 0011_monitoring
Revises: 0006_traces
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_monitoring"
down_revision = "0006_traces"
branch_labels = None
depends_on = None


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id"], ["projects.id"], name=op.f(f"fk_{table}_project_id_projects"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "monitor_embeddings",
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("content_sha256", "model_id", name=op.f("pk_monitor_embeddings")),
    )
    op.create_table(
        "monitors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        _project_fk("monitors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitors")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_monitors_project_id")),
    )
    op.create_table(
        "monitor_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("ran_at", sa.Float(precision=53), nullable=False),
        sa.Column("window_start", sa.Float(precision=53), nullable=False),
        sa.Column("window_end", sa.Float(precision=53), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=True),
        sa.Column("p_value", sa.Float(precision=53), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_monitor_results_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_results")),
    )
    with op.batch_alter_table("monitor_results", schema=None) as batch_op:
        batch_op.create_index("ix_monitor_results_monitor_ran", ["monitor_id", "ran_at"], unique=False)
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("pending_since", sa.Float(precision=53), nullable=True),
        sa.Column("silenced_until", sa.Float(precision=53), nullable=True),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_alert_rules_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        _project_fk("alert_rules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_alert_rules_project_id")),
    )
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_rules_monitor_id"), ["monitor_id"], unique=False)
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=True),
        sa.Column("trace_ids", sa.JSON(), nullable=False),
        sa.Column("silenced", sa.Boolean(), nullable=False),
        sa.Column("fired_at", sa.Float(precision=53), nullable=False),
        sa.Column("resolved_at", sa.Float(precision=53), nullable=True),
        sa.Column("acked_at", sa.Float(precision=53), nullable=True),
        sa.Column("acked_by", sa.String(length=128), nullable=True),
        _project_fk("alerts"),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alert_rules.id"], name=op.f("fk_alerts_rule_id_alert_rules"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_project_fired", ["project_id", "fired_at"], unique=False)
        batch_op.create_index("ix_alerts_rule_status", ["rule_id", "status"], unique=False)
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_notifications_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notifications")),
    )
    with op.batch_alter_table("alert_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_notifications_alert_id"), ["alert_id"], unique=False)
    op.create_table(
        "monitor_triggers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        _project_fk("monitor_triggers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_triggers")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_monitor_triggers_project_id")),
    )
    op.create_table(
        "monitor_trigger_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trigger_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(precision=53), nullable=False),
        sa.Column("started", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["monitor_triggers.id"],
            name=op.f("fk_monitor_trigger_events_trigger_id_monitor_triggers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_trigger_events")),
    )
    with op.batch_alter_table("monitor_trigger_events", schema=None) as batch_op:
        batch_op.create_index("ix_monitor_trigger_events_trigger_at", ["trigger_id", "at"], unique=False)


def downgrade() -> None:
    for table, index in (
        ("monitor_trigger_events", "ix_monitor_trigger_events_trigger_at"),
        ("monitor_triggers", None),
        ("alert_notifications", "ix_alert_notifications_alert_id"),
        ("alerts", "ix_alerts_rule_status"),
        ("alerts", "ix_alerts_project_fired"),
        ("alert_rules", "ix_alert_rules_monitor_id"),
        ("monitor_results", "ix_monitor_results_monitor_ran"),
    ):
        if index is not None:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.drop_index(index)
    for table in (
        "monitor_trigger_events",
        "monitor_triggers",
        "alert_notifications",
        "alerts",
        "alert_rules",
        "monitor_results",
        "monitors",
        "monitor_embeddings",
    ):
        op.drop_table(table)
