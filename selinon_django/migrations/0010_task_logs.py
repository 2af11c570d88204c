# Task logs (NodeRunLog) and the admin entry of the workers page (a proxy: no table).

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('selinon_django', '0009_run_history'),
    ]

    operations = [
        migrations.CreateModel(
            name='WorkersAndQueues',
            fields=[
            ],
            options={
                'verbose_name': 'workers and queues',
                'verbose_name_plural': 'workers and queues',
                'proxy': True,
                'default_permissions': ('view',),
                'indexes': [],
                'constraints': [],
            },
            bases=('selinon_django.flowrun',),
        ),
        migrations.CreateModel(
            name='NodeRunLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('node_run_id', models.CharField(max_length=255)),
                ('attempt', models.PositiveIntegerField(default=1)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('lines', models.JSONField(default=list)),
                ('size', models.PositiveIntegerField(default=0)),
                ('flow_run', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='node_logs', to='selinon_django.flowrun')),
            ],
            options={
                'ordering': ('id',),
                'indexes': [models.Index(fields=['node_run_id', 'id'], name='selinon_log_node'), models.Index(fields=['flow_run', 'id'], name='selinon_log_run')],
            },
        ),
    ]
