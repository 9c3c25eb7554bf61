from celery import shared_task

from .models import Order


@shared_task
def confirm_order(order_id: int) -> str:
    """Mark an order as confirmed; run by the Celery worker."""
    updated = Order.objects.filter(pk=order_id, status=Order.Status.PENDING).update(
        status=Order.Status.CONFIRMED
    )
    return "confirmed" if updated else "skipped"
