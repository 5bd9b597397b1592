"""The parts of ConnectionWorkflow (workflows/connection.py), one job each: calling activities and the one
failure path (calls), the status the user sees (status), tokens (tokens), the Graph subscription and its
lifecycle events (subscription), and the message fan-out with catch-up (messages)."""
