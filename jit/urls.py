from django.urls import URLPattern

app_name = "jit"

urlpatterns: list[URLPattern] = []
