// The Postgres cluster's members: the service on the database host ("primary", its home
// name) and one service per replica host ("replica-N"). Every member can be the primary;
// which one is, is configuration (services.postgres.primary). Clients reach whichever it is
// through one network alias, so moving the primary changes nothing on the app's side.
import { postgresReplicaName } from "./catalogue";

/** The network alias on database-net that the current primary carries (tasks.<alias> is its address). */
export const POSTGRES_WRITER = "postgres-rw";

export type PostgresMemberName = "primary" | `replica-${number}`;

export interface PostgresMember {
  /** The member's home name, as services.postgres.primary names it. */
  readonly name: PostgresMemberName;
  /** Its Swarm service: pinned to its host, where its data directory lives. */
  readonly service: string;
  /** Its physical replication slot on whichever member is primary (also its application_name). */
  readonly slot: string;
  /** Its data directory below the Postgres mount. */
  readonly dataDir: string;
}

export function postgresMembers(replicas: number): PostgresMember[] {
  return [
    { name: "primary", service: "postgres-primary", slot: "primary", dataDir: "primary" },
    ...Array.from({ length: replicas }, (_, i): PostgresMember => ({
      name: `replica-${i + 1}`,
      service: postgresReplicaName(i + 1),
      slot: `replica_${i + 1}`,
      dataDir: `replica-${i + 1}`,
    })),
  ];
}

/** The member configured as primary; undefined when the name is not a member (a config rule says so). */
export function writerMember(replicas: number, primary: string): PostgresMember | undefined {
  return postgresMembers(replicas).find((m) => m.name === primary);
}
