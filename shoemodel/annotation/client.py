"""Connect to a Label Studio server and find (or create) the round project, with errors a lead can act on.

A server that is down, a rejected token, or a project with another labeling config each end the
command with one clear sentence instead of an HTTP stack trace; nothing local is written before
the connection is checked, so the command can simply be re-run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shoemodel.annotation.labeling import earlier_label_configs, label_config


class LabelStudioError(RuntimeError):
    """Label Studio cannot be used as asked (down, token rejected, project mismatch)."""


def connect(url: str, token: str, timeout_s: float = 60.0) -> Any:
    """A label-studio-sdk 2.x client whose URL and token have been checked with one request."""
    import httpx
    from label_studio_sdk import LabelStudio
    from label_studio_sdk.core.api_error import ApiError

    client = LabelStudio(base_url=url, api_key=token, timeout=timeout_s)
    try:
        client.users.whoami()
    except httpx.TransportError as exc:
        raise LabelStudioError(
            f"cannot reach Label Studio at {url} ({exc}); is the server running? "
            "Start it with `label-studio start --internal-host 127.0.0.1 --port 8080` or set LABEL_STUDIO_URL"
        ) from exc
    except ApiError as exc:
        if exc.status_code in (401, 403):
            raise LabelStudioError(
                f"Label Studio at {url} rejected the API token (HTTP {exc.status_code}); "
                "copy it from Account & Settings into LABEL_STUDIO_API_KEY "
                "(legacy tokens need LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true on the server)"
            ) from exc
        raise LabelStudioError(f"Label Studio at {url} answered HTTP {exc.status_code}: {exc.body}") from exc
    return client


def get_or_create_project(client: Any, title: str) -> Any:
    """The project called `title` (created with our labeling config if absent); one made by an earlier version
    gets the current config (its tags are a superset, so its annotations stay valid); refuses a foreign config."""
    config = label_config()
    for project in client.projects.list(title=title):
        if project.title != title:
            continue
        if _normalise(project.label_config) in {_normalise(c) for c in earlier_label_configs()}:
            return client.projects.update(id=project.id, label_config=config)
        if _normalise(project.label_config) != _normalise(config):
            raise LabelStudioError(
                f"project {title!r} (id {project.id}) has a different labeling config; "
                "rename it or choose another annotation.project_title"
            )
        return project
    return client.projects.create(title=title, label_config=config,
                                  description="ShoeModel wearable-area rounds (shoemodel annotate)")


def _normalise(xml: str | None) -> str:
    return "".join((xml or "").split())


def iter_tasks(client: Any, project_id: int, page_size: int = 100) -> Iterator[dict[str, Any]]:
    """Every task of the project with its annotations and predictions, as plain dicts, page by page."""
    for task in client.tasks.list(project=project_id, fields="all", page_size=page_size):
        yield task.dict() if hasattr(task, "dict") else dict(task)


def ensure_local_storage(client: Any, project_id: int, folder: str, title: str = "shoemodel round images") -> None:
    """Register `folder` as the project's local-files storage: Label Studio serves /data/local-files/ only
    below such a storage (and below its LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT). Never synced: tasks come
    from `import_tasks`, with predictions."""
    from label_studio_sdk.core.api_error import ApiError

    folder = str(folder).rstrip("/")
    for storage in client.import_storage.local.list(project=project_id):
        if str(getattr(storage, "path", "")).rstrip("/") == folder:
            return
    try:
        client.import_storage.local.create(project=project_id, path=folder, title=title, use_blob_urls=True,
                                           regex_filter=r".*\.png$", synchronizable=False)
    except ApiError as exc:
        raise LabelStudioError(
            f"Label Studio refused local-files storage {folder} (HTTP {exc.status_code}: {exc.body}); the server needs "
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT set to a parent "
            "of this folder, or serve the folder over HTTP and set annotation.image_url_prefix to its URL"
        ) from exc
