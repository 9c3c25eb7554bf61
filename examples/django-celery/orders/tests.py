import pytest
from django.test import Client

from orders.models import Order
from orders.tasks import confirm_order


def test_healthz(client: Client) -> None:
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_confirm_order() -> None:
    order = Order.objects.create(email="a@example.com", total_cents=1250)
    assert confirm_order.apply(args=[order.pk]).get() == "confirmed"
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED
