from django.urls import URLPattern, path

from deployments.permissions import views

app_name = "permissions"

urlpatterns: list[URLPattern] = [
    path("", views.overview, name="overview"),
    path("applications/<int:pk>/", views.app, name="app"),
    path("offers/<int:pk>/", views.offer, name="offer"),
    path("changes/", views.changes, name="changes"),
]
