from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from accounts.entra.provider import EntraProvider

urlpatterns = default_urlpatterns(EntraProvider)
