"""The floor under each list page: the same page of rows from one hand-written SQL query, sent
as JSON by a view with nothing else in it. What a page costs beyond this is the price of the
ORM, the scope checks, the extra figures and the template.

Each query takes the viewer's tenant (`%(tenant)s`: the publisher, or the customer) and the page
size, and runs on SQLite and PostgreSQL alike. Lists whose page shows a total count it in the same
query; the JIT requests and the audit trail, counted by their pages only up to a cap, fetch the
page and one row more (is there a next page?). Scope is written out as the portal applies it
(a publisher sees the applications of its offers; a customer its own tenant's).
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

# A publisher's customers, by name, with their applications by state, pending requests and
# last successful sync (the Customers page).
CUSTOMERS = """
WITH apps AS (
    SELECT a.customer_tenant_id AS tenant_id,
           COUNT(*) AS apps,
           SUM(CASE WHEN a.provisioning_state = 'Succeeded' THEN 1 ELSE 0 END) AS succeeded,
           SUM(CASE WHEN a.provisioning_state IN ('Failed', 'Canceled') THEN 1 ELSE 0 END)
               AS failed
    FROM deployments_managedapplication a
    JOIN deployments_offer o ON o.id = a.offer_id
    WHERE o.publisher_tenant_id = %(tenant)s
    GROUP BY a.customer_tenant_id
)
SELECT t.id, t.display_name, apps.apps, apps.succeeded, apps.failed,
       (SELECT COUNT(*) FROM jit_jitrequest j
          JOIN deployments_managedapplication ja ON ja.id = j.application_id
          JOIN deployments_offer jo ON jo.id = ja.offer_id
         WHERE ja.customer_tenant_id = t.id AND jo.publisher_tenant_id = %(tenant)s
           AND j.state = 'Pending') AS pending,
       (SELECT MAX(r.finished_at) FROM deployments_syncrun r
         WHERE r.tenant_id = t.id AND r.state = 'succeeded') AS last_success,
       COUNT(*) OVER () AS total
FROM accounts_tenant t JOIN apps ON apps.tenant_id = t.id
ORDER BY LOWER(t.display_name), t.id
LIMIT %(size)s
"""

# A publisher's offers with how many applications and customers run each (the Fleet page).
FLEET = """
SELECT o.id, o.display_name, o.plan, o.version,
       COUNT(a.id) AS apps,
       COUNT(DISTINCT a.customer_tenant_id) AS customers,
       SUM(CASE WHEN a.provisioning_state IN ('Failed', 'Canceled') THEN 1 ELSE 0 END) AS failed,
       COUNT(*) OVER () AS total
FROM deployments_offer o
LEFT JOIN deployments_managedapplication a ON a.offer_id = o.id AND a.vanished_at IS NULL
WHERE o.publisher_tenant_id = %(tenant)s
GROUP BY o.id, o.display_name, o.plan, o.version
ORDER BY o.display_name, o.plan, o.version
LIMIT %(size)s
"""

# A publisher's JIT requests across customers, newest first (the Requests page).
PUBLISHER_REQUESTS = """
SELECT j.id, j.name, j.state, j.created_at, j.start, j.duration, j.requester_name,
       j.role_definition_id, a.name AS application, t.display_name AS customer
FROM jit_jitrequest j
JOIN deployments_managedapplication a ON a.id = j.application_id
JOIN deployments_offer o ON o.id = a.offer_id
JOIN accounts_tenant t ON t.id = a.customer_tenant_id
WHERE o.publisher_tenant_id = %(tenant)s {state}
ORDER BY j.created_at DESC
LIMIT %(size)s
"""

# A publisher's JIT audit trail, newest first.
PUBLISHER_AUDIT = """
SELECT e.id, e.at, e.action, e.actor_name, e.reason, a.name AS application,
       t.display_name AS customer, j.name AS request
FROM jit_auditevent e
JOIN deployments_managedapplication a ON a.id = e.application_id
JOIN deployments_offer o ON o.id = a.offer_id
JOIN accounts_tenant t ON t.id = e.tenant_id
LEFT JOIN jit_jitrequest j ON j.id = e.jit_request_id
WHERE o.publisher_tenant_id = %(tenant)s
ORDER BY e.at DESC, e.id DESC
LIMIT %(size)s
"""

# A customer's applications by name, with offer, pending requests and last sync.
CUSTOMER_APPS = """
SELECT a.id, a.name, a.provisioning_state, o.display_name AS offer, a.resource_group,
       (SELECT COUNT(*) FROM jit_jitrequest j
         WHERE j.application_id = a.id AND j.state = 'Pending') AS pending,
       (SELECT MAX(r.finished_at) FROM deployments_syncrun r
         WHERE r.tenant_id = a.customer_tenant_id AND r.state = 'succeeded') AS last_success,
       COUNT(*) OVER () AS total
FROM deployments_managedapplication a
LEFT JOIN deployments_offer o ON o.id = a.offer_id
WHERE a.customer_tenant_id = %(tenant)s AND a.vanished_at IS NULL
ORDER BY LOWER(a.name), a.id
LIMIT %(size)s
"""

# A customer's JIT requests, newest first.
CUSTOMER_REQUESTS = """
SELECT j.id, j.name, j.state, j.created_at, j.start, j.duration, j.requester_name,
       j.role_definition_id, a.name AS application
FROM jit_jitrequest j
JOIN deployments_managedapplication a ON a.id = j.application_id
WHERE a.customer_tenant_id = %(tenant)s
ORDER BY j.created_at DESC
LIMIT %(size)s
"""

# Page URL -> (the floor's query, its page size).
FLOORS: dict[str, tuple[str, int]] = {
    "/apps/customers/": (CUSTOMERS, 25),
    "/apps/customers/fleet/": (FLEET, 100),
    "/jit/": (PUBLISHER_REQUESTS.format(state=""), 26),
    "/jit/?state=Pending": (PUBLISHER_REQUESTS.format(state="AND j.state = 'Pending'"), 26),
    "/jit/audit/": (PUBLISHER_AUDIT, 51),
    "/apps/applications/": (CUSTOMER_APPS, 25),
    "customer /jit/": (CUSTOMER_REQUESTS, 26),
}


def floor_rows(key: str, tenant_pk: int) -> list[dict[str, Any]]:
    sql, size = FLOORS[key]
    with connection.cursor() as cursor:
        cursor.execute(sql, {"tenant": tenant_pk, "size": size})
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def floor_view(request: HttpRequest, index: int, tenant_pk: int) -> HttpResponse:
    rows = floor_rows(list(FLOORS)[index], tenant_pk)
    return HttpResponse(json.dumps(rows, default=str), content_type="application/json")


def urlpatterns_with_floors(base: Any) -> list[Any]:
    """The portal's URLs plus /_floor/<page>/<tenant>/ for each floor."""
    floors: list[URLPattern] = [path("_floor/<int:index>/<int:tenant_pk>/", floor_view)]
    return [*floors, *base]
