# The admin entry of the runs dashboard: a proxy of FlowRun (no table).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('selinon_django', '0010_task_logs'),
    ]

    operations = [
        migrations.CreateModel(
            name='RunDashboard',
            fields=[
            ],
            options={
                'verbose_name': 'dashboard',
                'verbose_name_plural': 'dashboard',
                'proxy': True,
                'default_permissions': ('view',),
                'indexes': [],
                'constraints': [],
            },
            bases=('selinon_django.flowrun',),
        ),
    ]
