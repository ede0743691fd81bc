"""Running the Huey consumer inside another process (the embedded `serve`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import autodiscover_modules
from huey.consumer import Consumer
from huey.contrib.djhuey import HUEY


class EmbeddedConsumer(Consumer):
    """A consumer whose threads run beside the web server: signals stay with the server."""

    def _set_signal_handlers(self) -> None:
        pass


def consumer_options(**overrides: Any) -> dict[str, Any]:
    """The consumer's options from settings; also registers every app's tasks."""
    # Tasks must be registered before a worker reads them off the queue, and periodic
    # ones before the scheduler starts.
    autodiscover_modules("tasks")
    huey_settings: dict[str, Any] = settings.HUEY
    options: dict[str, Any] = dict(huey_settings.get("consumer", {}))
    options.update({k: v for k, v in overrides.items() if v is not None})
    options["worker_type"] = "thread"
    # Wake quickly when idle: the dispatcher is woken through the queue.
    options.setdefault("initial_delay", 0.05)
    options.setdefault("max_delay", 1.0)
    return options


def start_embedded_worker(workers: int | None = None) -> EmbeddedConsumer:
    consumer = EmbeddedConsumer(HUEY, **consumer_options(workers=workers))
    consumer.start()
    return consumer
