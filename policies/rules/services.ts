// Service-level rules: budgets, labelled placement for stateful services,
// images, secrets, privileges, exposure.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { EDGE_PORTS, SERVICE_BUDGETS, statefulLabels, type ServiceRole } from "../../domain/catalogue";
import { hasDigest, isImageId, unpinnedReason } from "../../domain/images";
import { looksLikeSecretName, looksLikeSecretValue } from "../../domain/secret-patterns";
import { parseEnvFile } from "../../topology/services";
import { TYPES } from "../support/stack-facts";
import { serviceView } from "../support/views";

const isRole = (role: string | undefined): role is ServiceRole => role !== undefined && role in SERVICE_BUDGETS;

export const serviceResources: ResourceValidationPolicy = {
  name: "service-resources",
  description: "Every Swarm service declares resource limits AND reservations, within the spec's per-service budget.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== TYPES.service) return;
    const s = serviceView(args.props);
    const { limits, reservations } = s;
    if (!limits.cpus || !limits.memoryMb) reportViolation(`service ${s.name} has no CPU and memory limits: set taskSpec.resources.limits`);
    if (!reservations.cpus || !reservations.memoryMb) reportViolation(`service ${s.name} has no CPU and memory reservations: set taskSpec.resources.reservation`);
    if (limits.cpus && reservations.cpus && reservations.cpus > limits.cpus) reportViolation(`service ${s.name} reserves more CPU than its limit`);
    if (limits.memoryMb && reservations.memoryMb && reservations.memoryMb > limits.memoryMb) reportViolation(`service ${s.name} reserves more memory than its limit`);
    if (!isRole(s.role)) {
      reportViolation(`service ${s.name} has no known com.medianest.role label, so its budget cannot be checked: build it with SwarmService`);
      return;
    }
    const budget = SERVICE_BUDGETS[s.role].limits;
    if ((limits.cpus ?? 0) > budget.cpus || (limits.memoryMb ?? 0) > budget.memoryMb) {
      reportViolation(
        `service ${s.name} (${s.role}) is limited to ${limits.cpus} CPU / ${limits.memoryMb} MB, above the spec's budget of ${budget.cpus} CPU / ${budget.memoryMb} MB: lower its limits`,
      );
    }
  },
};


export const statefulPlacement: ResourceValidationPolicy = {
  name: "stateful-placement",
  description: "Stateful services (Postgres, Redis, MinIO) keep their data on host paths, so they are constrained to labelled nodes.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== TYPES.service) return;
    const s = serviceView(args.props);
    // The catalogue's own requirement (either label encoding is accepted below).
    const wanted = s.role ? statefulLabels(s.role, s.name) : undefined;
    if (!wanted) return;
    for (const [key, value] of Object.entries(wanted)) {
      const accepted = [`node.labels.${key} == ${value}`, `node.labels.${key}.${value} == true`];
      if (!s.constraints.some((c) => accepted.includes(c.replace(/\s+/g, " ").trim()))) {
        reportViolation(`stateful service ${s.name} is not constrained to nodes labelled ${key}=${value}: add the constraint "${accepted[0]}"`);
      }
    }
  },
};

export const pinnedImages: ResourceValidationPolicy = {
  name: "pinned-images",
  description: 'Images are pinned: a tag other than "latest", or a digest.',
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== TYPES.service) return;
    const s = serviceView(args.props);
    if (!s.image) return; // unknown during preview
    const reason = unpinnedReason(s.image);
    if (reason === "no-tag") reportViolation(`service ${s.name} uses "${s.image}" without a tag or digest: pin a version`);
    if (reason === "latest") reportViolation(`service ${s.name} uses the moving "latest" tag: pin a version or a digest`);
  },
};

export const imageDigests: ResourceValidationPolicy = {
  name: "image-digests",
  description: "Images are pinned by digest (a tag can be moved; a digest cannot).",
  enforcementLevel: "advisory",
  validateResource: (args, reportViolation) => {
    if (args.type !== TYPES.service) return;
    const s = serviceView(args.props);
    // A locally built image runs by its ID (images.build), which is content-addressed too.
    if (s.image && !hasDigest(s.image) && !isImageId(s.image)) reportViolation(`service ${s.name} image "${s.image}" has no @sha256 digest: add one for reproducible deployments`);
  },
};


export const noPlaintextSecrets: ResourceValidationPolicy = {
  name: "no-plaintext-secrets",
  description: "No secret values in service environment variables: secrets are Docker secrets, passed as *_FILE paths.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const check = (owner: string, env: Readonly<Record<string, string>>) => {
      for (const [key, value] of Object.entries(env)) {
        if (looksLikeSecretName(key) && !(key.endsWith("_FILE") && value.startsWith("/run/secrets/"))) {
          reportViolation(`${owner} sets ${key} in its environment: mount the value as a Docker secret and set ${key}_FILE=/run/secrets/... instead`);
        }
        if (looksLikeSecretValue(value)) reportViolation(`${owner} has a secret-looking value in ${key}: use a Docker secret`);
      }
    };
    // Most of a service's environment travels as an env file (a Swarm config named env-<service>-<hash>).
    if (args.type === TYPES.serviceConfig && typeof args.props.name === "string" && args.props.name.startsWith("env-")) {
      if (typeof args.props.data !== "string") return; // unknown during preview
      check(`env file ${args.props.name}`, parseEnvFile(Buffer.from(args.props.data, "base64").toString("utf8")));
      return;
    }
    if (args.type !== TYPES.service) return;
    const s = serviceView(args.props);
    check(`service ${s.name}`, s.env);
  },
};

export const containerPrivileges: ResourceValidationPolicy = {
  name: "container-privileges",
  description: "No host network and no added Linux capabilities beyond an allow-list (Swarm services cannot be privileged).",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: { allowedCapabilities: { type: "array", items: { type: "string" }, default: [] } },
  },
  validateResource: (args, reportViolation) => {
    if (args.type === "docker:index/container:Container") {
      if (args.props.privileged === true) reportViolation(`container ${args.name} is privileged: drop privileged mode`);
      if (args.props.networkMode === "host") reportViolation(`container ${args.name} uses the host network: attach it to an overlay network`);
      return;
    }
    if (args.type !== TYPES.service) return;
    const allowed = new Set(args.getConfig<{ allowedCapabilities?: string[] }>().allowedCapabilities ?? []);
    const s = serviceView(args.props);
    for (const cap of s.capAdds) if (!allowed.has(cap)) reportViolation(`service ${s.name} adds capability ${cap}: remove it or add it to allowedCapabilities`);
    if (s.networks.includes("host")) reportViolation(`service ${s.name} uses the host network: attach it to an overlay network`);
  },
};

const SOCKET = /docker\.sock$/;

export const edgeOnlyExposure: ResourceValidationPolicy = {
  name: "edge-only-exposure",
  description: "Only the edge (Traefik) publishes ports, and only 80/443; the Docker socket is mounted only into the socket proxy (or the edge), read-only.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== TYPES.service) return;
    const s = serviceView(args.props);
    for (const port of s.publishedPorts) {
      if (s.role !== "traefik") reportViolation(`service ${s.name} publishes port ${port.published}: only the edge may publish; route it through Traefik`);
      else if (!EDGE_PORTS.includes(port.published ?? -1)) reportViolation(`the edge publishes port ${port.published}: only ${EDGE_PORTS.join("/")} are allowed`);
    }
    for (const mount of s.mounts) {
      if (!SOCKET.test(mount.source ?? "")) continue;
      if (s.role !== "socket-proxy" && s.role !== "traefik") reportViolation(`service ${s.name} mounts the Docker socket: only the socket proxy may`);
      else if (!mount.readOnly) reportViolation(`service ${s.name} mounts the Docker socket writable: mount it read-only`);
    }
  },
};
