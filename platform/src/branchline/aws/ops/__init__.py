"""Operating deployed flows: trigger runs, watch their status, read their logs."""
