/**
 * CloudNativePG as the stack pins it: the operator and plugin releases (their manifests in operators/),
 * and what the operator decides itself, which a Cluster may not set (the generators leave it out, the pack refuses it).
 */

/**
 * Parameters CloudNativePG sets itself and refuses in `postgresql.parameters`
 * (FixedConfigurationParameters in pkg/postgres/configuration.go of the operator release above):
 * paths, TLS files, archiving, recovery and replication wiring, logging destination.
 */
export const CNPG_FIXED_PARAMETERS: readonly string[] = [
    "allow_system_table_mods", "archive_cleanup_command", "archive_command", "archive_mode", "bonjour", "bonjour_name", "cluster_name", "config_file",
    "data_directory", "data_sync_retry", "event_source", "external_pid_file", "hba_file", "hot_standby", "ident_file", "jit_provider", "listen_addresses",
    "log_destination", "log_directory", "log_file_mode", "log_filename", "log_rotation_age", "log_rotation_size", "log_truncate_on_rotation", "logging_collector",
    "pg_failover_slots.primary_dsn", "pg_failover_slots.standby_slot_names", "port", "primary_conninfo", "primary_slot_name", "promote_trigger_file",
    "recovery_end_command", "recovery_min_apply_delay", "recovery_target", "recovery_target_action", "recovery_target_inclusive", "recovery_target_lsn",
    "recovery_target_name", "recovery_target_time", "recovery_target_timeline", "recovery_target_xid", "restart_after_crash", "restore_command",
    "shared_preload_libraries", "ssl", "ssl_ca_file", "ssl_cert_file", "ssl_crl_file", "ssl_dh_params_file", "ssl_ecdh_curve", "ssl_key_file",
    "ssl_passphrase_command", "ssl_passphrase_command_supports_reload", "ssl_prefer_server_ciphers", "stats_temp_directory", "synchronized_standby_slots",
    "synchronous_standby_names", "syslog_facility", "syslog_ident", "syslog_sequence_numbers", "syslog_split_messages", "temp_tablespaces",
    "unix_socket_directories", "unix_socket_group", "unix_socket_permissions",
];

/** The parameters of a Cluster that CloudNativePG fixes itself. */
export const fixedParametersIn = (parameters: Record<string, unknown>) => Object.keys(parameters).filter((k) => CNPG_FIXED_PARAMETERS.includes(k));

/**
 * The releases the stack is written for: their manifests are stored unchanged in operators/ (source
 * and checksum in operators/README.md), their CRDs validate the objects, and
 * kubernetes.operators.install declares them.
 */
export const CNPG_RELEASES = {
    operator: {
        name: "CloudNativePG",
        repository: "cloudnative-pg/cloudnative-pg",
        tag: "v1.30.0",
        commit: "4b5e244a7d031f67e025c83c1555e7726ecbbfa1",
        source: "releases/cnpg-1.30.0.yaml",
        manifest: "operators/cloudnative-pg-v1.30.0.yaml",
        sha256: "f8bede43fe4ee0d478c2355b204a36876b2ae4faac60f2a9452280b293da3b88",
    },
    plugin: {
        name: "Barman Cloud plugin",
        repository: "cloudnative-pg/plugin-barman-cloud",
        tag: "v0.14.0",
        commit: "1e13020fe5f09fd8fc29ea03828f7b61375b3721",
        source: "manifest.yaml",
        manifest: "operators/plugin-barman-cloud-v0.14.0.yaml",
        sha256: "691e598b4591e83e23586d3394a8fedef429586a01d1a1b56ab8b80e9fa6ccb0",
        // what the release build (Taskfile.yml, manifest-internal) sets in the tag's manifest with kustomize
        images: { plugin: "ghcr.io/cloudnative-pg/plugin-barman-cloud:v0.14.0", sidecar: "ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar:v0.14.0" },
    },
} as const;

/** The Barman Cloud plugin's name, as a Cluster and a Backup refer to it. */
export const BARMAN_CLOUD_PLUGIN = "barman-cloud.cloudnative-pg.io";
