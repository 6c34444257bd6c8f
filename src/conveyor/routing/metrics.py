"""Document 004's Prometheus counters."""

from prometheus_client import Counter

job_creation_total = Counter("job_creation_total", "Jobs created")
job_routing_total = Counter("job_routing_total", "Job routings created")
sync_success_total = Counter("sync_success_total", "Routings synced to a provider")
sync_failure_total = Counter("sync_failure_total", "Failed sync attempts")
