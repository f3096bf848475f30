from django.urls import URLPattern, path

from jit import report_views, views

app_name = "jit"

urlpatterns: list[URLPattern] = [
    path("", views.requests, name="requests"),
    path("requests/<uuid:pk>/", views.request_detail, name="request_detail"),
    path("requests/<uuid:pk>/status/", views.request_status, name="request_status"),
    path("requests/<uuid:pk>/decide/", views.decide, name="decide"),
    path("requests/<uuid:pk>/cancel/", views.cancel, name="cancel"),
    path("requests/<uuid:pk>/revoke/", views.revoke, name="revoke"),
    path("apps/<int:app_pk>/request/", views.request_new, name="request_new"),
    path("apps/<int:app_pk>/policy/", views.policy, name="policy"),
    path("audit/", views.audit, name="audit"),
    path("audit.csv", views.audit_csv, name="audit_csv"),
    path("report/", report_views.report, name="report"),
    path("report.csv", report_views.report_csv, name="report_csv"),
    path("report.pdf", report_views.report_pdf_download, name="report_pdf"),
]
