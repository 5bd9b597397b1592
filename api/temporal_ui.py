"""Where the pages link a workflow to: the Temporal UI's address (settings) and the namespace the API's
Temporal client uses (Temporal's environment configuration, a profile, may have set it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends

from api.deps import SettingsDep, TemporalClientDep


@dataclass(frozen=True)
class TemporalUI:
    url: str
    namespace: str

    def workflow_link(self, workflow_id: str) -> str:
        """The workflow's page in the Temporal UI (it opens the latest run)."""
        return temporal_ui_link(self.url, self.namespace, workflow_id)


def temporal_ui_link(ui_url: str, namespace: str, workflow_id: str) -> str:
    """The workflow's page in the Temporal UI (it opens the latest run). Ids hold slashes: encoded."""
    return (
        f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"
    )


def get_temporal_ui(settings: SettingsDep, temporal: TemporalClientDep) -> TemporalUI:
    return TemporalUI(settings.temporal_ui_url, temporal.namespace)


TemporalUIDep = Annotated[TemporalUI, Depends(get_temporal_ui)]
