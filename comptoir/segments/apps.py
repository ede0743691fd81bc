from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "comptoir.segments"
    label = "segments"

    def ready(self) -> None:
        from comptoir.segments.profiling import register

        register()
