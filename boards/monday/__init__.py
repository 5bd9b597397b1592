"""monday.com as a destination: its GraphQL client, the token store and `MondayBoards` (destination.py)."""
