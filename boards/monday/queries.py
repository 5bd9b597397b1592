"""Every GraphQL document the monday.com client sends, and nothing else.

tests/monday/test_queries.py validates each upper-case string of this module against monday.com's
published schema, so a document added here is checked without anyone having to remember to.
Variables are always passed separately (never formatted into a document): values from email can
then never change a document's meaning.
"""

from __future__ import annotations

# The token's user: verifies a token when an account links monday.com.
ME = """
query Me {
  me { id }
}
"""

# A board's shape: groups and columns resolve the recipe's titles to monday.com's ids.
BOARD_SHAPE = """
query BoardShape($board_id: ID!) {
  boards(ids: [$board_id]) {
    id
    name
    groups { id title }
    columns { id title type settings_str }
  }
}
"""

CREATE_ITEM = """
mutation CreateItem(
  $board_id: ID!, $group_id: String, $item_name: String!, $column_values: JSON,
  $create_labels_if_missing: Boolean
) {
  create_item(
    board_id: $board_id, group_id: $group_id, item_name: $item_name,
    column_values: $column_values, create_labels_if_missing: $create_labels_if_missing
  ) { id }
}
"""

CREATE_UPDATE = """
mutation CreateUpdate($item_id: ID!, $body: String!) {
  create_update(item_id: $item_id, body: $body) { id }
}
"""

CHANGE_COLUMN_VALUES = """
mutation ChangeColumnValues($board_id: ID!, $item_id: ID!, $column_values: JSON!) {
  change_multiple_column_values(board_id: $board_id, item_id: $item_id, column_values: $column_values) {
    id
  }
}
"""

# Items whose columns hold any of the values: the message key (idempotency) and find_item.
ITEMS_BY_COLUMN_VALUES = """
query ItemsByColumnValues(
  $board_id: ID!, $columns: [ItemsPageByColumnValuesQuery!], $limit: Int!, $cursor: String
) {
  items_page_by_column_values(board_id: $board_id, columns: $columns, limit: $limit, cursor: $cursor) {
    cursor
    items {
      id
      created_at
      column_values { id text }
    }
  }
}
"""

# An item's recent updates: whether an update an earlier attempt posted arrived (add_update_once).
ITEM_UPDATES = """
query ItemUpdates($item_id: ID!, $limit: Int!) {
  items(ids: [$item_id]) {
    id
    updates(limit: $limit) { id body text_body created_at }
  }
}
"""

# An item as an outgoing recipe's templates see it: name, board, group and every column's text by title.
ITEM_FACTS = """
query ItemFacts($item_id: ID!) {
  items(ids: [$item_id]) {
    id
    name
    board { id name }
    group { id title }
    column_values { id text column { title } }
  }
}
"""

# Outgoing recipes on a monday.com board: monday.com POSTs the board's events to `url` (after a
# {"challenge"} handshake it sends while this mutation runs). config: {"columnId": ...} for
# change_specific_column_value.
CREATE_WEBHOOK = """
mutation CreateWebhook($board_id: ID!, $url: String!, $event: WebhookEventType!, $config: JSON) {
  create_webhook(board_id: $board_id, url: $url, event: $event, config: $config) { id board_id }
}
"""

DELETE_WEBHOOK = """
mutation DeleteWebhook($id: ID!) {
  delete_webhook(id: $id) { id board_id }
}
"""
