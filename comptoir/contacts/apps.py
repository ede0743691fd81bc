from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "comptoir.contacts"
    label = "contacts"

    def ready(self) -> None:
        from comptoir.contacts.models import Tag
        from comptoir.workspaces.memo import memo_sources

        memo_sources(Tag)  # the inbox keeps its VIP tag's id
