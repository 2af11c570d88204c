"""ConfigRevision.origin: an uploaded revision is rebuilt with the upload trust wherever it runs.

Revisions loaded before this field existed: those with a Django user were uploaded (the admin
page or the REST API record the user; commands record only the OS user's name), so they become
``upload`` and lose access to anything an upload may not reach.
"""
from typing import Any

from django.db import migrations, models


def _mark_uploads(apps: Any, schema_editor: Any) -> None:
    revision = apps.get_model("selinon_django", "ConfigRevision")
    revision.objects.filter(created_by__isnull=False).update(origin="upload")


class Migration(migrations.Migration):

    dependencies = [
        ("selinon_django", "0006_node_carried_by"),
    ]

    operations = [
        migrations.AddField(
            model_name="configrevision",
            name="origin",
            field=models.CharField(
                choices=[("command", "command"), ("upload", "upload")], default="command", editable=False, max_length=8
            ),
        ),
        migrations.AlterField(
            model_name="configsource",
            name="role",
            field=models.CharField(
                choices=[("nodes", "nodes"), ("flows", "flows"), ("schema", "output schema")], max_length=8
            ),
        ),
        migrations.RunPython(_mark_uploads, migrations.RunPython.noop),
    ]
