"""The custom search attributes of this project's workflows (registered on the server at start-up).

Search attributes are stored in plain text and indexed: ids, the mailbox address and the status only.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CONNECTION_ID = SearchAttributeKey.for_keyword("ConnectionId")
MAILBOX = SearchAttributeKey.for_keyword("Mailbox")
CONNECTION_STATUS = SearchAttributeKey.for_keyword("ConnectionStatus")
OWNER_ID = SearchAttributeKey.for_keyword("OwnerId")

ALL = (CONNECTION_ID, MAILBOX, CONNECTION_STATUS, OWNER_ID)
