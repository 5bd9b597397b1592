"""The activity log: what became of each message of a connection (processed, skipped, failed), with a
short reason and the number of items created; never the email's content.

Its own package because both the message activities (write, and skip what is done during catch-up)
and the API (read) use it, and it belongs to neither boards nor recipes.
"""

from activitylog.log import OUTCOMES, processed_message_ids, recent_outcomes, record_outcome

__all__ = ["OUTCOMES", "processed_message_ids", "recent_outcomes", "record_outcome"]
