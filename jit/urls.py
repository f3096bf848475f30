from django.urls import URLPattern, path

from jit import batch_views, report_views, views, window_views

app_name = "jit"

urlpatterns: list[URLPattern] = [
    path("", views.requests, name="requests"),
    path("inbox/warnings/", batch_views.warnings, name="inbox_warnings"),
    path("decide/", batch_views.decide, name="decide_batch"),
    path("decided/", batch_views.done, name="batch_done"),
    path("requests/<uuid:pk>/", views.request_detail, name="request_detail"),
    path("requests/<uuid:pk>/status/", views.request_status, name="request_status"),
    path("requests/<uuid:pk>/decide/", views.decide, name="decide"),
    path("requests/<uuid:pk>/cancel/", views.cancel, name="cancel"),
    path("requests/<uuid:pk>/revoke/", views.revoke, name="revoke"),
    path("apps/<int:app_pk>/request/", views.request_new, name="request_new"),
    path("apps/<int:app_pk>/policy/", views.policy, name="policy"),
    path("apps/<int:app_pk>/windows/", window_views.windows_page, name="windows"),
    path("apps/<int:app_pk>/windows/<int:pk>/", window_views.window_page, name="window"),
    path("audit/", views.audit, name="audit"),
    path("audit.csv", views.audit_csv, name="audit_csv"),
    path("report/", report_views.report, name="report"),
    path("report.csv", report_views.report_csv, name="report_csv"),
    path("report.pdf", report_views.report_pdf_download, name="report_pdf"),
]
