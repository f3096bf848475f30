"""The elevation report: hours clipped to the month, who, why, who approved, what changed; the
page, its CSV and PDF, each scoped by `JitRequest.objects.visible_to`."""

import csv
import datetime as dt
import io
import uuid
from typing import cast

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pypdf import PdfReader

from accounts.models import Side, User
from deployments.models import ManagedApplication, Offer
from jit import report as figures
from jit.models import ElevationActivity, JitRequest, State
from jit.report_pdf import report_pdf, unicode_font_dir
from tests.conftest import make_tenant
from tests.jit.conftest import CONTRIBUTOR, OWNER, PAT, _app
from tests.jit.test_views import as_

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MARCH = figures.Month(2026, 3)


def at(day: int, hour: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


def make_request(app: ManagedApplication, pat: User, *, name: str, **fields: object) -> JitRequest:
    values: dict[str, object] = {
        "requested_by": pat,
        "requester_oid": PAT,
        "requester_name": "Pat Patel",
        "principal_id": PAT,
        "role_definition_id": CONTRIBUTOR,
        "start": at(1),
        "duration": dt.timedelta(hours=4),
        "justification": "Disk alert",
        "state": State.PENDING,
        **fields,
    }
    prefix = app.arm_id.rsplit("/providers/", 1)[0]
    return JitRequest.objects.create(
        application=app,
        arm_id=f"{prefix}/providers/Microsoft.Solutions/jitRequests/{name}",
        name=name,
        **values,
    )


def granted(app: ManagedApplication, pat: User, name: str, start: dt.datetime, hours: float,
            **fields: object) -> JitRequest:  # fmt: skip
    duration = dt.timedelta(hours=hours)
    defaults: dict[str, object] = {
        "state": State.EXPIRED,
        "start": start,
        "duration": duration,
        "created_at": start - dt.timedelta(minutes=10),
        "grant_started_at": start,
        "grant_ended_at": start + duration,
    }
    defaults.update(fields)
    return make_request(app, pat, name=name, **defaults)


def body(response: object) -> str:
    return b"".join(cast(StreamingHttpResponse, response).streaming_content).decode()  # type: ignore[arg-type]


def pdf_text(data: bytes) -> str:
    """The text a reader extracts from a PDF (DejaVu text is glyph ids, not plain bytes)."""
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# Figures ------------------------------------------------------------------------------------


def test_hours_are_the_actual_grant_clipped_to_the_month(
    monitoring: ManagedApplication, pat: User, alice: User
) -> None:
    granted(monitoring, pat, "inside", at(10, 9), 4)
    # Revoked after one hour of eight: one hour.
    granted(monitoring, pat, "revoked", at(11, 9), 8, state=State.CANCELED,
            grant_ended_at=at(11, 10))  # fmt: skip
    # Starts 28 Feb 22:00 for 6 h: 4 h fall in March.
    granted(monitoring, pat, "across", at(28, 22, month=2), 6)
    # Seen late: the recorded end is after the planned one; the planned end holds.
    granted(monitoring, pat, "late", at(12, 9), 2, grant_ended_at=at(13, 9))
    report = figures.elevation_report(alice, MARCH, now=at(31, 12))
    hours = {e.jit.name: e.hours for e in report.elevations}
    assert hours == {"inside": 4.0, "revoked": 1.0, "across": 4.0, "late": 2.0}
    outcomes = {e.jit.name: e.outcome for e in report.elevations}
    assert outcomes["revoked"] == "ended early" and outcomes["inside"] == "granted"
    assert report.not_granted == [] and len(report.granted) == 4
    assert report.total_hours == 11.0
    assert report.weeks[0][0] == at(1) and report.weeks[-1][1] == at(1, month=4)
    assert sum(total for _, _, total in report.week_rows) == 11.0


def test_an_active_grant_counts_until_now_and_the_refused_count_nothing(
    monitoring: ManagedApplication, pat: User, alice: User
) -> None:
    granted(monitoring, pat, "active", at(20, 8), 8, state=State.APPROVED, grant_ended_at=None)
    make_request(monitoring, pat, name="denied", state=State.DENIED, created_at=at(5),
                 start=at(5), decided_by_name="Alice Archer")  # fmt: skip
    make_request(monitoring, pat, name="timeout", state=State.TIMEOUT, created_at=at(6),
                 start=at(6))  # fmt: skip
    make_request(monitoring, pat, name="canceled", state=State.CANCELED, created_at=at(7),
                 start=at(7))  # fmt: skip
    report = figures.elevation_report(alice, MARCH, now=at(20, 11))
    by_name = {e.jit.name: e for e in report.elevations}
    assert by_name["active"].hours == 3.0
    assert by_name["active"].outcome == "active"
    assert [by_name[n].hours for n in ("denied", "timeout", "canceled")] == [0, 0, 0]
    assert report.not_granted == [("canceled", 1), ("denied", 1), ("timed out", 1)]
    assert by_name["denied"].approval == "Alice Archer"


def test_approval_names_only_what_the_portal_knows(
    monitoring: ManagedApplication, backup: ManagedApplication, pat: User, alice: User
) -> None:
    granted(monitoring, pat, "handoff", at(2, 9), 2, handoff_by_name="Alice Archer",
            handoff_decision="approve", decided_by_name="Azure")  # fmt: skip
    granted(monitoring, pat, "inazure", at(3, 9), 2)
    granted(backup, pat, "auto", at(4, 9), 2)
    report = figures.elevation_report(alice, MARCH, now=at(31))
    approval = {e.jit.name: e.approval for e in report.elevations}
    assert approval["handoff"] == "recorded by Alice Archer"
    assert approval["inazure"] == "in Azure (Azure does not say who)"
    assert approval["auto"].startswith("automatic")


def test_changes_count_writes_and_deletes_but_not_the_grant_itself(
    monitoring: ManagedApplication, pat: User, alice: User
) -> None:
    jit = granted(monitoring, pat, "busy", at(9, 9), 4)
    rows = [
        ("Microsoft.Authorization/roleAssignments/write", at(9, 9), "Succeeded"),  # the grant
        ("Microsoft.Compute/virtualMachines/write", at(9, 10), "Succeeded"),
        ("Microsoft.Compute/virtualMachines/write", at(9, 10), "Started"),
        ("Microsoft.Storage/storageAccounts/delete", at(9, 11), "Succeeded"),
        ("Microsoft.Compute/virtualMachines/restart/action", at(9, 11), "Succeeded"),
        ("Microsoft.Authorization/roleAssignments/write", at(9, 12), "Succeeded"),  # counted
        ("Microsoft.Authorization/roleAssignments/delete", at(9, 13), "Succeeded"),  # the end
    ]
    for i, (operation, when, status) in enumerate(rows):
        ElevationActivity.objects.create(
            jit_request=jit, event_id=str(i), at=when, operation=operation, status=status
        )
    (e,) = figures.elevation_report(alice, MARCH, now=at(31)).elevations
    assert (e.changes, e.deletes) == (3, 1)


def test_customers_are_compared_with_the_median(
    monitoring: ManagedApplication,
    northwind_monitoring: ManagedApplication,
    offers: dict[str, Offer],
    pat: User,
) -> None:
    for day in range(1, 8):
        granted(monitoring, pat, f"fab{day}", at(day, 9), 8)
    granted(northwind_monitoring, pat, "nw1", at(3, 9), 2)
    report = figures.elevation_report(pat, MARCH, now=at(31))
    lines = {line.name: line for line in report.customers}
    assert report.median_hours == 29.0 and lines["Fabrikam"].hours == 56.0
    # Two customers: the median is their mean, which neither can be twice of.
    assert not any(line.hours_flagged for line in lines.values())
    woodgrove = make_tenant(uuid.uuid4(), "Woodgrove Bank", Side.CUSTOMER)
    app = _app(woodgrove, offers["manual"], str(uuid.uuid4()), "rg-wg", "woodgrove-monitoring",
               "ManualApprove", [], 8, "uksouth")  # fmt: skip
    granted(app, pat, "wg1", at(5, 9), 3)
    report = figures.elevation_report(pat, MARCH, now=at(31))
    lines = {line.name: line for line in report.customers}
    assert report.median_hours == 3.0 and report.median_requests == 1
    assert report.customers[0].name == "Fabrikam"
    assert lines["Fabrikam"].hours_flagged and lines["Fabrikam"].requests_flagged
    assert not lines["Woodgrove Bank"].hours_flagged
    assert not lines["Northwind Traders"].hours_flagged


def test_month_parameters() -> None:
    assert figures.Month.parse("2026-03") == MARCH
    assert MARCH.previous == figures.Month(2026, 2)
    assert figures.Month(2026, 12).next == figures.Month(2027, 1)
    assert figures.Month(2026, 1).previous == figures.Month(2025, 12)
    for bad in (
        "2026-13",
        "2026-00",
        "1999-12",
        "2101-01",
        "26-03",
        "2026-3",
        "march",
        "\uff12\uff10\uff12\uff16-03",
    ):
        with pytest.raises(figures.BadParameter):
            figures.Month.parse(bad)


# Page, CSV, PDF -------------------------------------------------------------------------------


def test_customer_admin_sees_her_tenants_report(
    client: Client, alice: User, monitoring: ManagedApplication, pat: User
) -> None:
    granted(monitoring, pat, "jitmar1", at(10, 9), 4, justification="Disk full on vm-1",
            ticket_reference="INC-4711")  # fmt: skip
    response = as_(client, alice).get(reverse("jit:report"), {"month": "2026-03"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "March 2026" in text and "jitmar1" in text and "INC-4711" in text
    assert "<svg" in text and "report-role-0" in text
    assert 'id="report-chart-table"' in text
    assert "?month=2026-02" in text and "?month=2026-04" in text


def test_reader_sees_the_report_too(
    client: Client, bob: User, monitoring: ManagedApplication, pat: User
) -> None:
    granted(monitoring, pat, "jitmar1", at(10, 9), 4)
    response = as_(client, bob).get(reverse("jit:report"), {"month": "2026-03"})
    assert response.status_code == 200
    assert "jitmar1" in response.content.decode()


def test_a_month_without_elevations_says_so(client: Client, alice: User) -> None:
    response = as_(client, alice).get(reverse("jit:report"), {"month": "2026-03"})
    assert response.status_code == 200
    assert "No elevation was requested or granted in March 2026" in response.content.decode()


def test_publisher_sees_every_customer_and_filters_one(
    client: Client,
    pat: User,
    monitoring: ManagedApplication,
    northwind_monitoring: ManagedApplication,
) -> None:
    granted(monitoring, pat, "jitfab", at(10, 9), 4)
    granted(northwind_monitoring, pat, "jitnw", at(11, 9), 2)
    text = as_(client, pat).get(reverse("jit:report"), {"month": "2026-03"}).content.decode()
    assert "jitfab" in text and "jitnw" in text and "Per customer" in text
    tenant = northwind_monitoring.customer_tenant.entra_tenant_id
    page = client.get(reverse("jit:report"), {"month": "2026-03", "tenant": str(tenant)}).content
    assert b"jitnw" in page and b"jitfab" not in page


def test_tenant_a_sees_nothing_of_tenant_b_in_page_csv_or_pdf(
    client: Client,
    charlie: User,
    monitoring: ManagedApplication,
    northwind_monitoring: ManagedApplication,
    pat: User,
) -> None:
    granted(monitoring, pat, "jitfabsecret", at(10, 9), 4, justification="zqfabrikam-why")
    granted(northwind_monitoring, pat, "jitnwown", at(11, 9), 2)
    fabrikam = monitoring.customer_tenant.entra_tenant_id
    as_(client, charlie)
    queries = [
        {"month": "2026-03"},
        {"month": "2026-03", "tenant": str(fabrikam)},
        {"month": "2026-03", "tenant": "Fabrikam"},
        {"month": "2026-03", "app": str(monitoring.pk)},
    ]
    secrets = ("jitfabsecret", "zqfabrikam-why", "fabrikam-monitoring")
    for query in queries:
        page = client.get(reverse("jit:report"), query).content.decode()
        csv_text = body(client.get(reverse("jit:report_csv"), query))
        pdf = pdf_text(client.get(reverse("jit:report_pdf"), query).content)
        for text in (page, csv_text, pdf):
            assert not [secret for secret in secrets if secret in text], query
    page = client.get(reverse("jit:report"), {"month": "2026-03"}).content.decode()
    assert "jitnwown" in page


def test_csv_has_one_row_per_request_and_neutralises_formulas(
    client: Client, alice: User, monitoring: ManagedApplication, pat: User
) -> None:
    granted(monitoring, pat, "jitcsv1", at(10, 9), 4, justification='=HYPERLINK("http://x")',
            ticket_reference="+INC-1")  # fmt: skip
    make_request(monitoring, pat, name="jitcsv2", state=State.DENIED, created_at=at(12),
                 start=at(12), justification="@SUM(A1)")  # fmt: skip
    response = as_(client, alice).get(reverse("jit:report_csv"), {"month": "2026-03"})
    assert response["Content-Disposition"] == 'attachment; filename="elevation-report-2026-03.csv"'
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert [r["request"] for r in rows] == ["jitcsv1", "jitcsv2"]
    assert rows[0]["justification"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["ticket"] == "'+INC-1"
    assert rows[0]["hours in month"] == "4.00"
    assert rows[1]["justification"] == "'@SUM(A1)" and rows[1]["outcome"] == "denied"
    assert rows[1]["hours in month"] == "0.00"


def test_pdf_download_holds_the_title_summary_and_rows(
    client: Client, alice: User, monitoring: ManagedApplication, pat: User
) -> None:
    granted(monitoring, pat, "jitpdf1", at(10, 9), 4, justification="Überprüfung 数据库 ✓",
            ticket_reference="CHG-2001")  # fmt: skip
    response = as_(client, alice).get(reverse("jit:report_pdf"), {"month": "2026-03"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="elevation-report-2026-03.pdf"'
    assert response.content.startswith(b"%PDF")
    report = figures.elevation_report(alice, MARCH, now=at(31))
    # Without the Unicode font the text is plain in the content stream.
    text = report_pdf(report, scope="Fabrikam", compress=False, font_dirs=()).decode("latin-1")
    for expected in ("Elevation report: Fabrikam", "March 2026", "jitpdf1", "CHG-2001",
                         "4.0 hours of elevated access", "Hours per week by role"):  # fmt: skip
        assert expected in text


@pytest.mark.skipif(unicode_font_dir() is None, reason="DejaVu Sans is not installed here")
def test_pdf_in_dejavu_keeps_any_script(
    monitoring: ManagedApplication, pat: User, alice: User
) -> None:
    granted(monitoring, pat, "jitpdf3", at(10, 9), 4, justification="Überprüfung 数据库 Привет")
    report = figures.elevation_report(alice, MARCH, now=at(31))
    text = "".join(
        page.extract_text()
        for page in PdfReader(io.BytesIO(report_pdf(report, scope="Fabrikam"))).pages
    )
    assert "Elevation report: Fabrikam" in text and "jitpdf3" in text
    # DejaVu has Latin, Greek and Cyrillic but no CJK glyphs: those are left blank, not fatal.
    assert "Überprüfung" in text and "Привет" in text


def test_pdf_survives_any_text_without_a_unicode_font(
    monitoring: ManagedApplication, pat: User, alice: User, tmp_path: object
) -> None:
    granted(monitoring, pat, "jitpdf2", at(10, 9), 4, justification="数据库 😀 \u202e ok")
    report = figures.elevation_report(alice, MARCH, now=at(31))
    from pathlib import Path

    plain = report_pdf(report, scope="Fabrikam", compress=False, font_dirs=(Path("/nonexistent"),))
    assert plain.startswith(b"%PDF")
    text = plain.decode("latin-1")
    assert "jitpdf2" in text and "? ok" in text


def test_hostile_month_is_a_400_with_a_reason(client: Client, alice: User) -> None:
    response = as_(client, alice).get(reverse("jit:report"), {"month": "2026-13"})
    assert response.status_code == 400
    assert "month must be between 01 and 12" in response.content.decode()


PROPERTY = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hostile = st.text(max_size=40) | st.sampled_from(
    ["", "2026-03", "9999-12", "0000-01", "2026-02-30", "-1", "1e9", "99999999999999999999",
     "00000000-0000-0000-0000-000000000000", "\x00", "\"Fabrikam\"", "a\x00b", "x" * 3000, "2026-03\n"]
)  # fmt: skip


@PROPERTY
@given(month=hostile, tenant=hostile, app=hostile, which=st.sampled_from(["", "_csv", "_pdf"]))
def test_hostile_parameters_never_answer_500(
    client: Client, alice: User, month: str, tenant: str, app: str, which: str
) -> None:
    client.force_login(alice)
    query = {k: v for k, v in (("month", month), ("tenant", tenant), ("app", app)) if v}
    response = client.get(reverse(f"jit:report{which}"), query)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "This report cannot be shown" in response.content.decode()


def test_queries_do_not_grow_with_the_number_of_requests(
    client: Client, alice: User, monitoring: ManagedApplication, pat: User
) -> None:
    def count(n: int, month: int) -> int:
        for i in range(n):
            when = at(1 + i % 27, 9, month=month)
            jit = granted(monitoring, pat, f"jitq{month}-{i}", when, 2,
                          requester_name="" if i % 2 else "Pat Patel")  # fmt: skip
            ElevationActivity.objects.create(
                jit_request=jit, event_id="e", at=when + dt.timedelta(minutes=30),
                operation="Microsoft.Compute/virtualMachines/write", status="Succeeded",
            )  # fmt: skip
        as_(client, alice)
        with CaptureQueriesContext(connection) as queries:
            for name in ("jit:report", "jit:report_csv", "jit:report_pdf"):
                response = client.get(reverse(name), {"month": f"2026-{month:02d}"})
                assert response.status_code == 200
                if response.streaming:
                    body(response)
        return len(queries)

    few = count(3, 3)
    many = count(30, 5)
    assert few == many


def test_owner_role_gets_its_own_series(
    monitoring: ManagedApplication, pat: User, alice: User
) -> None:
    granted(monitoring, pat, "c", at(2, 9), 2)
    granted(monitoring, pat, "o", at(3, 9), 3, role_definition_id=OWNER)
    report = figures.elevation_report(alice, MARCH, now=at(31))
    assert report.roles == ["Contributor", "Owner"]
    assert report.week_rows[0] == ("1 Mar", [0.0, 0.0], 0.0)
    assert report.week_rows[1][1] == [2.0, 3.0]
