"""Fewer indexes on the run tables: each one is paid for on every hop.

Flow-run and node-run updates change indexed columns (never HOT), so every index gets a new
entry per update. The field changes drop the single-column foreign-key indexes that a composite
or partial index now covers (and, on PostgreSQL, their ``*_like`` twins); the Meta indexes
replace the full status indexes with partial ones. ``drop_like_indexes`` removes the
``varchar_pattern_ops`` indexes Django made for the CharField primary keys: no query of ours
uses LIKE on them (the admin's prefix search is case-insensitive, ``UPPER(...) LIKE``, which such
an index does not serve either). Its reverse is a no-op: unapplying this migration leaves those
indexes dropped (recreating them is not needed by anything).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

#: the tables whose ``*_like`` indexes go (names as created by 0001_initial)
RUN_TABLES = (
    "selinon_django_flowrun",
    "selinon_django_noderun",
    "selinon_django_outboxmessage",
    "selinon_django_traceeventrecord",
)


def drop_like_indexes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Drop, on PostgreSQL only, every non-unique index named ``*_like`` on the run tables.

    Found by introspection, not by name: Django derives the names from a hash, so a hard-coded
    list would silently miss one whose table or column was ever renamed.
    """
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        for table in RUN_TABLES:
            if table not in existing:
                continue
            constraints = connection.introspection.get_constraints(cursor, table)
            for name, info in sorted(constraints.items()):
                if name.endswith("_like") and info["index"] and not info["unique"] and not info["primary_key"]:
                    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):

    dependencies = [
        ('selinon_django', '0003_flow_migrations'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='flowrun',
            name='selinon_flowrun_status',
        ),
        migrations.RemoveIndex(
            model_name='noderun',
            name='selinon_noderun_status',
        ),
        migrations.AlterField(
            model_name='flowrun',
            name='created_by',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='flowrun',
            name='flow_name',
            field=models.CharField(max_length=255),
        ),
        migrations.AlterField(
            model_name='flowrun',
            name='parent_run',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='child_runs', to='selinon_django.flowrun'),
        ),
        migrations.AlterField(
            model_name='flowrun',
            name='revision',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='flow_runs', to='selinon_django.configrevision'),
        ),
        migrations.AlterField(
            model_name='flowrun',
            name='root_run',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='tree_runs', to='selinon_django.flowrun'),
        ),
        migrations.AlterField(
            model_name='noderun',
            name='flow_run',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='node_runs', to='selinon_django.flowrun'),
        ),
        migrations.AlterField(
            model_name='traceeventrecord',
            name='flow_run',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='trace_events', to='selinon_django.flowrun'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(fields=['flow_name', 'created_at'], name='selinon_flowrun_flow_created'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(condition=models.Q(('status__in', ('succeeded', 'failed', 'revoked'))), fields=['status', 'created_at'], name='selinon_flowrun_finished'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(condition=models.Q(('parent_run__isnull', False)), fields=['parent_run'], name='selinon_flowrun_parent'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(condition=models.Q(('root_run__isnull', False)), fields=['root_run'], name='selinon_flowrun_root'),
        ),
        migrations.AddIndex(
            model_name='flowrun',
            index=models.Index(condition=models.Q(('created_by__isnull', False)), fields=['created_by'], name='selinon_flowrun_creator'),
        ),
        migrations.AddIndex(
            model_name='noderun',
            index=models.Index(condition=models.Q(('status__in', ('sent', 'retried', 'started'))), fields=['status'], name='selinon_noderun_inflight'),
        ),
        migrations.RunPython(drop_like_indexes, migrations.RunPython.noop, elidable=False),
    ]
