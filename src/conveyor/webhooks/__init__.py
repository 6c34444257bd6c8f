"""Signed outbound events (Standard Webhooks): subscriptions, `emit`, delivery with retries."""

from conveyor.errors import PLATFORM
from conveyor.module import Module
from conveyor.webhooks import tasks
from conveyor.webhooks.models import WebhookDelivery, WebhookSubscription
from conveyor.webhooks.router import router
from conveyor.webhooks.service import emit

module = Module(name="webhooks", routers=[router], surface=PLATFORM)

__all__ = ["WebhookDelivery", "WebhookSubscription", "emit", "module", "tasks"]
