from typing import Any

from django.conf import settings
from django.db import migrations, models


def score_existing_snapshots(apps: Any, schema_editor: Any) -> None:
    # The assessment is a pure function of the stored state, so the migration may use it.
    from deployments.permissions.risk import assess

    snapshots = apps.get_model("deployments", "PermissionSnapshot")
    for snapshot in snapshots.objects.only("pk", "state").iterator(chunk_size=2000):
        score = assess(snapshot.state, max_hours=settings.PERMISSIONS_MAX_JIT_HOURS).score
        snapshots.objects.filter(pk=snapshot.pk).update(risk_score=score)


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0007_permission_change_unsent_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="permissionsnapshot",
            name="risk_score",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.RunPython(score_existing_snapshots, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="permissionsnapshot",
            index=models.Index(fields=["-risk_score"], name="permissionsnapshot_risk_idx"),
        ),
    ]
