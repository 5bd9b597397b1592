"""What operators watch: Prometheus metrics (metrics.py, exposition.py) and JSON log lines (json_logs.py)."""
