from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from deployments import webhook
from portal import metrics, rate_limits, views
from portal.operations import views as operations_views

handler500 = "portal.outages.server_error"

admin.site.site_header = "Managed Apps Portal operations"
admin.site.site_title = "Managed Apps Portal"
# Operators sign in to the admin with a password: posted attempts share the sign-in limit.
admin.site.login = rate_limits.limit("sign_in", key="ip", methods=("POST",))(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    # Before admin/, whose catch-all would answer 404; admin_view lets staff only in.
    path(
        "admin/operations/",
        admin.site.admin_view(operations_views.dashboard),
        name="operations_dashboard",
    ),
    path("admin/", admin.site.urls),
    path("auth/", include("allauth.urls")),
    path("accounts/", include("accounts.urls")),
    path("apps/", include("deployments.urls")),
    path("permissions/", include("deployments.permissions.urls")),
    path("jit/", include("jit.urls")),
    path(
        f"{settings.MARKETPLACE_WEBHOOK_PATH}/resource",
        webhook.receive,
        name="marketplace_webhook",
    ),
]
