import pytest
from django.test import Client


@pytest.mark.django_db
def test_home_renders_for_anonymous(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert b"Sign in" in response.content
