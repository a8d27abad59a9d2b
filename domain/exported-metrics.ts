// The metric names each scraped program really exports, read from its source at the
// version the program runs (config/shape.ts images; the lab's Debian packages where they
// differ). Each scrape target (topology/generated-files.ts scrapeTargets) names its list,
// and a test fails when an alert rule or a dashboard panel queries a name that no target
// of the stack exports: a query on a metric nobody exports returns nothing and never fires.
// The lists hold what rules and panels use and its neighbours, not every family a program
// has; a name missing here is added with the file it comes from.

/** A histogram family as Prometheus stores it. */
export const histogram = (name: string): string[] => [`${name}_bucket`, `${name}_sum`, `${name}_count`];

/**
 * Series Prometheus adds to every target on each scrape (prometheus v3.5.0 and v2.42.0
 * scrape/scrape.go: scrapeHealthMetric "up", scrapeDurationMetric, ...): a query on them
 * needs no exporter.
 */
export const SCRAPE_SERIES: readonly string[] = ["up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"];

/**
 * prom/node-exporter v1.9.1 (the image) and Debian 12's prometheus-node-exporter 1.5.0
 * (the lab), the names both have, with the default collectors:
 * collector/cpu_common.go nodeCPUSecondsDesc; meminfo.go (node_memory_<field>_bytes from
 * /proc/meminfo); filesystem_common.go (labels device, mountpoint, fstype; mountpoint is
 * the host's path: filesystem_linux.go rootfsStripPrefix); diskstats_common.go and
 * diskstats_linux.go; stat_linux.go; loadavg.go; time.go; uname.go; netdev_common.go;
 * textfile.go; node_exporter.go's collector self-metrics.
 */
export const NODE_EXPORTER_METRICS: readonly string[] = [
  "node_cpu_seconds_total",
  "node_memory_MemTotal_bytes",
  "node_memory_MemFree_bytes",
  "node_memory_MemAvailable_bytes",
  "node_memory_Buffers_bytes",
  "node_memory_Cached_bytes",
  "node_memory_SwapTotal_bytes",
  "node_memory_SwapFree_bytes",
  "node_filesystem_size_bytes",
  "node_filesystem_free_bytes",
  "node_filesystem_avail_bytes",
  "node_filesystem_files",
  "node_filesystem_files_free",
  "node_filesystem_readonly",
  "node_filesystem_device_error",
  "node_disk_reads_completed_total",
  "node_disk_writes_completed_total",
  "node_disk_read_bytes_total",
  "node_disk_written_bytes_total",
  "node_disk_io_time_seconds_total",
  "node_disk_io_time_weighted_seconds_total",
  "node_disk_read_time_seconds_total",
  "node_disk_write_time_seconds_total",
  "node_boot_time_seconds",
  "node_context_switches_total",
  "node_procs_running",
  "node_procs_blocked",
  "node_load1",
  "node_load5",
  "node_load15",
  "node_time_seconds",
  "node_uname_info",
  "node_network_receive_bytes_total",
  "node_network_transmit_bytes_total",
  "node_network_receive_errs_total",
  "node_network_transmit_errs_total",
  "node_textfile_mtime_seconds",
  "node_textfile_scrape_error",
  "node_scrape_collector_success",
  "node_scrape_collector_duration_seconds",
];

/**
 * What the backup services write into node-exporter's textfile directory (scripts/backup/
 * pg-dump.sh dump_metrics, scripts/backup/upload.sh upload_metrics and upload_failure_metrics);
 * node-exporter serves them as its own. A test holds this list equal to the names the scripts print.
 */
export const BACKUP_TEXTFILE_METRICS: readonly string[] = [
  "medianest_backup_last_success_timestamp_seconds",
  "medianest_backup_last_size_bytes",
  "medianest_backup_last_duration_seconds",
  "medianest_backup_offsite_newest_dump_timestamp_seconds",
  "medianest_backup_upload_last_success_timestamp_seconds",
  "medianest_backup_upload_last_failure_timestamp_seconds",
];

/**
 * gcr.io/cadvisor/cadvisor v0.52.1 metrics/prometheus.go (container_*) and
 * prometheus_machine.go (machine_*). Without a Docker socket the containers are cgroups
 * (labels id, no Docker names or Swarm labels), so per-service figures are not available.
 */
export const CADVISOR_METRICS: readonly string[] = [
  "container_cpu_usage_seconds_total",
  "container_cpu_user_seconds_total",
  "container_cpu_system_seconds_total",
  "container_cpu_cfs_throttled_seconds_total",
  "container_memory_usage_bytes",
  "container_memory_working_set_bytes",
  "container_memory_rss",
  "container_memory_cache",
  "container_memory_failcnt",
  "container_oom_events_total",
  "container_fs_usage_bytes",
  "container_fs_limit_bytes",
  "container_fs_reads_bytes_total",
  "container_fs_writes_bytes_total",
  "container_network_receive_bytes_total",
  "container_network_transmit_bytes_total",
  "container_last_seen",
  "container_spec_memory_limit_bytes",
  "machine_cpu_cores",
  "machine_memory_bytes",
];

/**
 * quay.io/prometheuscommunity/postgres-exporter v0.17.1 (Debian 12's package is older; the
 * lab's image is built to the same names): cmd/postgres_exporter/postgres_exporter.go
 * ("pg_up"; builtinMetricMaps: pg_stat_replication with the pg_wal_lsn_diff column that
 * queries.go computes per standby from the primary, pg_replication_slots, pg_stat_activity,
 * pg_stat_archiver, each named namespace_column), and the default-enabled collectors
 * collector/pg_replication_slot.go (labels slot_name, slot_type; wal_status),
 * pg_replication.go, pg_database.go, pg_stat_database.go, pg_wal.go, collector.go.
 */
export const POSTGRES_EXPORTER_METRICS: readonly string[] = [
  "pg_up",
  "pg_stat_replication_pg_wal_lsn_diff",
  "pg_stat_replication_pg_current_wal_lsn_bytes",
  "pg_replication_slots_active",
  "pg_replication_slots_pg_wal_lsn_diff",
  "pg_replication_slot_slot_is_active",
  "pg_replication_slot_safe_wal_size_bytes",
  "pg_replication_slot_wal_status",
  "pg_replication_slot_slot_current_wal_lsn",
  "pg_replication_lag_seconds",
  "pg_replication_is_replica",
  "pg_replication_last_replay_seconds",
  "pg_stat_activity_count",
  "pg_stat_activity_max_tx_duration",
  "pg_stat_archiver_archived_count",
  "pg_stat_archiver_failed_count",
  "pg_database_size_bytes",
  "pg_database_connection_limit",
  "pg_stat_database_numbackends",
  "pg_stat_database_xact_commit",
  "pg_stat_database_xact_rollback",
  "pg_stat_database_deadlocks",
  "pg_wal_segments",
  "pg_wal_size_bytes",
  "pg_scrape_collector_success",
  "pg_scrape_collector_duration_seconds",
];

/**
 * oliver006/redis_exporter v1.76.0 on a Redis data node: exporter/exporter.go (metricMapGauges
 * and metricMapCounters, e.g. connected_clients, used_memory → memory_used_bytes; "up",
 * exporter_last_scrape_error), exporter/info.go (instance_info with a role label, slave_info,
 * master_link_up), all under the "redis" namespace.
 */
export const REDIS_EXPORTER_METRICS: readonly string[] = [
  "redis_up",
  "redis_instance_info",
  "redis_slave_info",
  "redis_connected_slaves",
  "redis_connected_clients",
  "redis_master_link_up",
  "redis_master_repl_offset",
  "redis_connected_slave_lag_seconds",
  "redis_connected_slave_offset_bytes",
  "redis_memory_used_bytes",
  "redis_memory_max_bytes",
  "redis_uptime_in_seconds",
  "redis_rdb_last_bgsave_status",
  "redis_rdb_changes_since_last_save",
  "redis_exporter_last_scrape_error",
];

/**
 * The same exporter pointed at a Sentinel (its /scrape endpoint with target=): exporter/
 * sentinels.go extractSentinelMetrics (SENTINEL MASTERS, CKQUORUM, SENTINELS, SLAVES;
 * ok_sentinels counts the sentinel itself) and extractSentinelInfo, plus "up".
 */
export const REDIS_SENTINEL_METRICS: readonly string[] = [
  "redis_up",
  "redis_sentinel_masters",
  "redis_sentinel_tilt",
  "redis_sentinel_master_status",
  "redis_sentinel_master_slaves",
  "redis_sentinel_master_sentinels",
  "redis_sentinel_master_ok_sentinels",
  "redis_sentinel_master_ok_slaves",
  "redis_sentinel_master_ckquorum_status",
  "redis_sentinel_master_setting_ckquorum",
  "redis_exporter_last_scrape_error",
];

/**
 * traefik:v3.5.3 pkg/metrics/prometheus.go initStandardRegistry. Entry-point and service
 * families are on by default (pkg/types/metrics.go SetDefaults), router families only with
 * --metrics.prometheus.addRoutersLabels (traefikArgs sets it). Request families carry code,
 * method, protocol (http, websocket, sse, grpc: pkg/middlewares/metrics/metrics.go
 * getRequestProtocol) and router + service, service, or entrypoint; router and service
 * values are provider-qualified ("api@swarm"). traefik_tls_certs_not_after{cn,serial,sans}
 * covers the default store's certificates except Traefik's own generated default
 * (pkg/tls/tlsmanager.go GetServerCertificates). Process and Go collectors are registered too.
 */
export const TRAEFIK_METRICS: readonly string[] = [
  "traefik_config_reloads_total",
  "traefik_config_last_reload_success",
  "traefik_open_connections",
  "traefik_tls_certs_not_after",
  "traefik_entrypoint_requests_total",
  "traefik_entrypoint_requests_tls_total",
  ...histogram("traefik_entrypoint_request_duration_seconds"),
  "traefik_entrypoint_requests_bytes_total",
  "traefik_entrypoint_responses_bytes_total",
  "traefik_router_requests_total",
  "traefik_router_requests_tls_total",
  ...histogram("traefik_router_request_duration_seconds"),
  "traefik_router_requests_bytes_total",
  "traefik_router_responses_bytes_total",
  "traefik_service_requests_total",
  "traefik_service_requests_tls_total",
  ...histogram("traefik_service_request_duration_seconds"),
  "traefik_service_retries_total",
  "traefik_service_requests_bytes_total",
  "traefik_service_responses_bytes_total",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
  "go_goroutines",
];

/**
 * Prometheus' own /metrics, prom/prometheus v3.5.0 and Debian's 2.42.0 alike:
 * rules/group.go (v3; rules/manager.go in 2.42) namespace "prometheus"; notifier/
 * (subsystem "notifications"); cmd/prometheus/main.go.
 */
export const PROMETHEUS_METRICS: readonly string[] = [
  "prometheus_rule_evaluation_failures_total",
  "prometheus_rule_group_iterations_missed_total",
  "prometheus_notifications_errors_total",
  "prometheus_notifications_dropped_total",
  "prometheus_config_last_reload_successful",
  "prometheus_tsdb_head_series",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
];

/**
 * prom/alertmanager v0.28.1 and Debian's 0.25.0: notify/notify.go NewMetrics (label
 * integration; v0.28 adds reason to the failed counter), config/coordinator.go.
 */
export const ALERTMANAGER_METRICS: readonly string[] = [
  "alertmanager_notifications_total",
  "alertmanager_notifications_failed_total",
  "alertmanager_notification_requests_total",
  "alertmanager_notification_requests_failed_total",
  ...histogram("alertmanager_notification_latency_seconds"),
  "alertmanager_config_last_reload_successful",
  "alertmanager_config_hash",
  "alertmanager_alerts",
];

/**
 * MinIO's cluster endpoint (/minio/v2/metrics/cluster): cmd/metrics-v2.go names each metric
 * namespace_subsystem_name (minio_cluster + capacity_usable + free_bytes, ...). Only the
 * capacity and node gauges, which no rule uses yet. Scraped only where the stack runs MinIO.
 */
export const MINIO_METRICS: readonly string[] = [
  "minio_cluster_capacity_usable_free_bytes",
  "minio_cluster_capacity_usable_total_bytes",
  "minio_cluster_nodes_offline_total",
  "minio_cluster_nodes_online_total",
  "minio_s3_requests_errors_total",
];
