"""Write every request's principal and requester ids in the one canonical GUID spelling."""

from django.db import migrations

from portal.guids import canonical_guid


def canonicalize(apps, schema_editor):
    JitRequest = apps.get_model("jit", "JitRequest")
    for row in JitRequest.objects.only("pk", "principal_id", "requester_oid").iterator():
        principal = canonical_guid(row.principal_id)
        requester = canonical_guid(row.requester_oid) if row.requester_oid else ""
        if (principal, requester) != (row.principal_id, row.requester_oid):
            JitRequest.objects.filter(pk=row.pk).update(
                principal_id=principal, requester_oid=requester
            )


class Migration(migrations.Migration):
    dependencies = [("jit", "0002_request_arm_state_handoff")]

    operations = [migrations.RunPython(canonicalize, migrations.RunPython.noop)]
