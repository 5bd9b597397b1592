"""The data converter of every Temporal client the project makes (worker, API, tests, replayer, bench)."""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """Pydantic payloads, encoded by `codec`; failure messages and stack traces go into the failure's
    encoded attributes (through the codec too), since Temporal stores a failure's message in plain text
    and an exception's message can quote an email."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
