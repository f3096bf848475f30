from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person signed in to the portal.

    People from Entra ID are identified by their tenant and object id, never by e-mail; operators
    created with createsuperuser sign in with a password.
    """
