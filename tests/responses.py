"""The type of the test client's answers, for helpers that take or return one."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # What django.test.Client returns: an HttpResponse with the test client's additions
    # (json(), context, templates...). The class exists only in django-stubs.
    from django.test.client import _MonkeyPatchedWSGIResponse as ClientResponse
else:
    from django.http import HttpResponse as ClientResponse

__all__ = ["ClientResponse"]
