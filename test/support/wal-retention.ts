// How much WAL a primary holds, as the WAL-bound tests (test:data and the lab) read it: segments
// up to the one being written are kept WAL; later names are recycled files waiting for reuse.

/** One row, "KEPT_MB RECYCLED_MB", run as a superuser (pg_ls_waldir). */
export const WAL_RETENTION_SQL =
  "SELECT coalesce(sum(size) FILTER (WHERE name <= pg_walfile_name(pg_current_wal_lsn())), 0) / 1048576 || ' ' || coalesce(sum(size) FILTER (WHERE name > pg_walfile_name(pg_current_wal_lsn())), 0) / 1048576 FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'";

/** [kept, recycled] MB from the query's output. */
export const walRetentionMb = (output: string): [number, number] => {
  const [kept, recycled] = output.trim().split(" ").map(Number);
  return [kept, recycled];
};
