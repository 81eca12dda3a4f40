from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Security events"

    def ready(self) -> None:
        from events import jobs  # noqa: F401  (connects the export-file cleanup)
