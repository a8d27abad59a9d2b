// The app tier: the backend (one service, or one per color for blue-green), the
// frontend and the media workers, wired to the data tier and the edge.
import type { StackConfig } from "../../config/schema";
import { NOT_ROUTED, TRAEFIK_PORTS, backendRoutingLabels, frontendRoutingLabels } from "../edge";
import { MEDIANEST_CONTRACT, type SettingSource, type TierContract } from "../../domain/app-contract";
import { extraSecretName, service, type Base, type HealthcheckSpec, type SecretName, type ServiceSpec } from "./spec";

const nodeHealth = (url: string): HealthcheckSpec => ({
  // node is in every Node.js image; curl/wget are not.
  test: ["CMD", "node", "-e", `require('http').get('${url}',r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))`],
  interval: "10s",
  timeout: "5s",
  retries: 3,
  startPeriod: "30s",
});

/** The portal's public origin (NEXTAUTH_URL, FRONTEND_URL, ALLOWED_ORIGINS). */
export function publicOrigin(config: StackConfig): string {
  return config.app.hostname === "localhost" ? "http://localhost" : `https://${config.app.hostname}`;
}

/**
 * What a tier's contract gives its service: settings (plus the stack's extra ones), secret
 * files and secret-backed variables, the image's user as their owner, and what runs (the
 * image's entrypoint, or another command in the same image such as the worker's).
 */
function contractWiring(
  config: StackConfig,
  tier: TierContract,
  extra: { readonly env: Readonly<Record<string, string>>; readonly secrets: readonly { readonly file: string; readonly env?: string }[] },
  exec: readonly string[] = tier.entrypoint,
): Pick<ServiceSpec, "env" | "secrets" | "secretEnv" | "secretOwner" | "entrypoint" | "scripts"> {
  const value = (source: SettingSource): string => {
    switch (source.kind) {
      case "literal":
        return source.value;
      case "port":
        return String(tier.port);
      case "public-origin":
        return publicOrigin(config);
      case "internal-api":
        // The edge's internal entrypoint routes to the active backend: a blue-green switch
        // is a label change on the backends only.
        return `http://traefik:${TRAEFIK_PORTS.internal}`;
    }
  };
  return {
    // The stack's extra settings (config rule app-extra-env keeps them apart from the contract's).
    env: { ...extra.env, ...Object.fromEntries(Object.entries(tier.env).map(([key, source]) => [key, value(source)])) },
    // The contract's files, then the stack's extra ones (config rule app-extra-secrets keeps them apart).
    secrets: [...[...new Set(tier.secrets.map((s) => s.file))].sort(), ...extra.secrets.map((s) => extraSecretName(s.file))],
    secretEnv: Object.fromEntries([
      ...tier.secrets.filter((s) => s.exportedBy === "wrapper").map((s): [string, SecretName] => [s.env, s.file]),
      ...extra.secrets.flatMap((s): [string, SecretName][] => (s.env ? [[s.env, extraSecretName(s.file)]] : [])),
    ]),
    secretOwner: { uid: tier.uid, gid: tier.gid },
    entrypoint: exec,
    scripts: [],
  };
}

/** The stack's additions to a tier's contract (app.extraEnv, app.extraSecrets). */
const extrasOf = (config: StackConfig, tier: "backend" | "frontend") => ({ env: config.app.extraEnv[tier], secrets: config.app.extraSecrets[tier] });

export type Color = "blue" | "green";
export const COLORS: readonly Color[] = ["blue", "green"];

/** The backend services: one (rolling) or one per color (blue-green), Traefik routing only the active one. */
export function backendServiceNames(config: StackConfig): string[] {
  return config.deployment.strategy === "rolling" ? ["medianest-backend"] : COLORS.map((c) => `medianest-backend-${c}`);
}

export interface AppTier {
  /** One (rolling) or one per color (blue-green). */
  readonly backends: readonly ServiceSpec[];
  readonly frontend: ServiceSpec;
  /** Only with a worker command: the app has no worker mode of its own (domain/app-contract.ts). */
  readonly worker?: ServiceSpec;
}

/** Why no worker runs, when none does (the plan's output and the README say it). */
export function workerAbsence(config: StackConfig): string | undefined {
  if (config.services.worker.command ?? MEDIANEST_CONTRACT.workerCommand) return undefined;
  return `no worker runs: MediaNest (${MEDIANEST_CONTRACT.upstream.backendCommit.slice(0, 8)}) has no worker entrypoint; set medianest:services.worker.command to the worker's command to run ${config.services.worker.replicas}`;
}

export function appTier(base: Base): AppTier {
  const { config, plan } = base;
  const contract = MEDIANEST_CONTRACT;
  const deployment = config.deployment;
  const backend = (name: string, image: string, replicas: number, routed: boolean, color?: Color): ServiceSpec =>
    service(base, "backend", {
      name,
      image,
      replicas,
      placement: { constraints: plan.placement["medianest-backend"], spread: [] },
      healthcheck: nodeHealth(`http://127.0.0.1:${contract.backend.port}${contract.backend.healthPath}`),
      ...contractWiring(config, contract.backend, extrasOf(config, "backend")),
      mounts: [],
      // In-flight requests finish on SIGTERM before the task goes.
      stopGracePeriod: "30s",
      labels: {
        ...(routed ? backendRoutingLabels(config, contract.backend.port) : NOT_ROUTED),
        ...(color ? { "com.medianest.color": color } : {}),
      },
    });
  const backends =
    deployment.strategy === "rolling"
      ? [backend("medianest-backend", config.images.backend, config.services.backend.replicas, true)]
      : COLORS.map((color) => {
          const active = color === deployment.activeColor;
          const replicas = active ? config.services.backend.replicas : (deployment.idleReplicas ?? config.services.backend.replicas);
          return backend(`medianest-backend-${color}`, deployment.images[color] ?? config.images.backend, replicas, active, color);
        });
  const workerCommand = config.services.worker.command ?? contract.workerCommand;
  return {
    backends,
    frontend: service(base, "frontend", {
      name: "medianest-frontend",
      image: config.images.frontend,
      replicas: config.services.frontend.replicas,
      placement: { constraints: plan.placement["medianest-frontend"], spread: ["node.labels.az"] },
      healthcheck: nodeHealth(`http://127.0.0.1:${contract.frontend.port}${contract.frontend.healthPath}`),
      ...contractWiring(config, contract.frontend, extrasOf(config, "frontend")),
      mounts: [],
      labels: frontendRoutingLabels(config, contract.frontend.port),
    }),
    ...(workerCommand
      ? {
          worker: service(base, "worker", {
            name: "medianest-worker",
            image: config.images.worker,
            replicas: config.services.worker.replicas,
            placement: { constraints: plan.placement["medianest-worker"], spread: [] },
            // The worker runs the backend's code: the same settings and secrets, its own command.
            ...contractWiring(config, contract.backend, extrasOf(config, "backend"), workerCommand),
            mounts: [{ source: config.storage.mediaPath, target: "/media", readOnly: false }],
          }),
        }
      : {}),
  };
}
