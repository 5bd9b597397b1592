"""The notification envelope of graph-facts.md, parsed leniently: Graph's casing of values varies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ResourceData(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(min_length=1, max_length=512)
    odata_type: str | None = Field(None, alias="@odata.type")


class Notification(BaseModel):
    model_config = ConfigDict(extra="allow")

    subscription_id: str = Field(alias="subscriptionId", min_length=1, max_length=200)
    client_state: SecretStr | None = Field(None, alias="clientState", max_length=256)
    change_type: str | None = Field(None, alias="changeType", max_length=64)
    lifecycle_event: str | None = Field(None, alias="lifecycleEvent", max_length=64)
    resource: str | None = Field(None, max_length=2048)
    resource_data: ResourceData | None = Field(None, alias="resourceData")
    tenant_id: str | None = Field(None, alias="tenantId", max_length=64)


class NotificationBatch(BaseModel):
    model_config = ConfigDict(extra="allow")

    value: list[Notification] = Field(max_length=1000)
