from django.urls import URLPattern, path

from deployments import views

app_name = "deployments"

# Each section lives under its own prefix: the navigation marks a section active by path prefix.
urlpatterns: list[URLPattern] = [
    path("applications/", views.my_apps, name="my_apps"),
    path("applications/<int:pk>/", views.app_detail, name="app_detail"),
    path("customers/", views.customers, name="customers"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/fleet/", views.fleet, name="fleet"),
    path("catalog/", views.catalog, name="catalog"),
    path("catalog/<int:pk>/", views.offer_detail, name="offer_detail"),
    path("tenants/<int:tenant_pk>/refresh/", views.refresh, name="refresh"),
    path("syncs/<int:pk>/", views.sync_status, name="sync_status"),
]
