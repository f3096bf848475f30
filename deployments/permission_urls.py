from django.urls import URLPattern, path

from deployments import permission_views

app_name = "permissions"

urlpatterns: list[URLPattern] = [
    path("", permission_views.overview, name="overview"),
    path("applications/<int:pk>/", permission_views.app, name="app"),
    path("offers/<int:pk>/", permission_views.offer, name="offer"),
    path("changes/", permission_views.changes, name="changes"),
]
