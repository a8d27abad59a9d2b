// Property tests of the pure planners (fast-check): the label encoding and the constraints
// derived from it always agree, CIDR arithmetic is consistent, and the scheduling model
// never puts a node over its capacity or a task where its constraints forbid.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cidrContains, cidrsOverlap, intToIpv4, ipv4ToInt, parseIpv4Cidr } from "../domain/cidr";
import { encodeNodeLabels, hasLabel, hostsMatching, labelConstraint, labelEncodingFor, type ConfiguredLabels } from "../domain/labels";
import { satisfies, satisfiesConstraint, simulatePlacement, type SchedulingNode, type SchedulingService } from "../domain/scheduling";

const KEYS = ["type", "storage", "postgres", "az"] as const;
const VALUES = ["compute", "processing", "database", "ssd", "replica-1", "a", "b"] as const;

const labelValue = fc.constantFrom(...VALUES);
const configuredLabels: fc.Arbitrary<ConfiguredLabels> = fc.dictionary(
  fc.constantFrom(...KEYS),
  fc.oneof(labelValue, fc.uniqueArray(labelValue, { minLength: 1, maxLength: 3 })),
  { maxKeys: 4 },
);

describe("label encoding and the constraints derived from it", () => {
  it("a host satisfies the constraint for key=value exactly when its configured labels have it", () => {
    fc.assert(
      fc.property(fc.array(configuredLabels, { minLength: 1, maxLength: 6 }), fc.constantFrom(...KEYS), labelValue, (hosts, key, value) => {
        const encoding = labelEncodingFor(hosts);
        const constraint = labelConstraint(key, value, encoding);
        for (const labels of hosts) {
          const node = { role: "worker", hostname: "h", id: "h", labels: encodeNodeLabels(labels, encoding) };
          // A scalar key keeps one value: only its configured value is there.
          expect(satisfiesConstraint(node, constraint)).toBe(hasLabel(labels, key, value));
        }
      }),
    );
  });

  it("hostsMatching picks the same hosts as the constraints select", () => {
    fc.assert(
      fc.property(fc.array(configuredLabels, { minLength: 1, maxLength: 6 }), fc.dictionary(fc.constantFrom(...KEYS), labelValue, { maxKeys: 2 }), (labelSets, required) => {
        const encoding = labelEncodingFor(labelSets);
        const hosts = labelSets.map((labels, index) => ({ name: `h${index}`, labels }));
        const constraints = Object.entries(required).map(([k, v]) => labelConstraint(k, v, encoding));
        const selected = hosts.filter((h) => constraints.every((c) => satisfiesConstraint({ role: "worker", hostname: h.name, id: h.name, labels: encodeNodeLabels(h.labels, encoding) }, c)));
        expect(hostsMatching(hosts, required).map((h) => h.name)).toEqual(selected.map((h) => h.name));
      }),
    );
  });

  it("encoded labels are valid Swarm labels: one value per key, booleans for list keys", () => {
    fc.assert(
      fc.property(fc.array(configuredLabels, { minLength: 1, maxLength: 6 }), (hosts) => {
        const encoding = labelEncodingFor(hosts);
        for (const labels of hosts) {
          for (const [key, value] of Object.entries(encodeNodeLabels(labels, encoding))) {
            expect(key).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
            if (encoding.multiValuedKeys.has(key.split(".")[0]) && key.includes(".")) expect(value).toBe("true");
          }
        }
      }),
    );
  });
});

const ipv4 = fc.integer({ min: 0, max: 2 ** 32 - 1 });

describe("IPv4 CIDR arithmetic", () => {
  it("addresses round-trip between text and integer", () => {
    fc.assert(
      fc.property(ipv4, (value) => {
        expect(ipv4ToInt(intToIpv4(value))).toBe(value);
      }),
    );
  });

  it("a network address and prefix parse to the block they name; host bits set are refused with the network address", () => {
    fc.assert(
      fc.property(ipv4, fc.integer({ min: 0, max: 32 }), (address, prefix) => {
        const size = 2 ** (32 - prefix);
        const network = address - (address % size);
        const cidr = parseIpv4Cidr(`${intToIpv4(network)}/${prefix}`);
        expect([cidr.first, cidr.last, cidr.prefix]).toEqual([network, network + size - 1, prefix]);
        expect(cidrContains(cidr, intToIpv4(address))).toBe(true);
        if (address !== network) {
          expect(() => parseIpv4Cidr(`${intToIpv4(address)}/${prefix}`)).toThrow(`the network address is ${intToIpv4(network)}/${prefix}`);
        }
      }),
    );
  });

  it("overlap is symmetric and means a shared address", () => {
    const block = fc.tuple(ipv4, fc.integer({ min: 8, max: 32 })).map(([address, prefix]) => {
      const size = 2 ** (32 - prefix);
      return parseIpv4Cidr(`${intToIpv4(address - (address % size))}/${prefix}`);
    });
    fc.assert(
      fc.property(block, block, (a, b) => {
        expect(cidrsOverlap(a, b)).toBe(cidrsOverlap(b, a));
        const shared = Math.max(a.first, b.first);
        expect(cidrsOverlap(a, b)).toBe(shared <= Math.min(a.last, b.last) && cidrContains(a, intToIpv4(shared)) && cidrContains(b, intToIpv4(shared)));
      }),
    );
  });
});

const ROLES = ["manager", "worker"] as const;
const node: fc.Arbitrary<SchedulingNode> = fc.record({
  name: fc.constant(""),
  role: fc.constantFrom(...ROLES),
  labels: fc.dictionary(fc.constantFrom("type", "az"), fc.constantFrom("compute", "database", "a", "b"), { maxKeys: 2 }),
  cpus: fc.integer({ min: 1, max: 16 }),
  memoryMb: fc.integer({ min: 512, max: 32_768 }),
});
const constraint = fc.constantFrom("node.role == manager", "node.role == worker", "node.role != manager", "node.labels.type == compute", "node.labels.type == database", "node.labels.az != b");
const service: fc.Arbitrary<SchedulingService> = fc.record({
  name: fc.constant(""),
  global: fc.boolean(),
  replicas: fc.integer({ min: 0, max: 8 }),
  constraints: fc.uniqueArray(constraint, { maxLength: 2 }),
  spread: fc.subarray(["node.labels.az", "node.id"]),
  maxReplicasPerNode: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  reservations: fc.record({ cpus: fc.double({ min: 0.05, max: 4, noNaN: true }), memoryMb: fc.integer({ min: 16, max: 4096 }) }),
});

describe("the scheduling model", () => {
  it("never places a task where its constraints forbid, past max replicas per node, or over a node's capacity; every task is accounted for", () => {
    fc.assert(
      fc.property(fc.array(node, { minLength: 1, maxLength: 7 }), fc.array(service, { minLength: 1, maxLength: 10 }), (rawNodes, rawServices) => {
        const nodes = rawNodes.map((n, i) => ({ ...n, name: `n${i}` }));
        const services = rawServices.map((s, i) => ({ ...s, name: `s${i}`, spread: s.maxReplicasPerNode === 1 ? s.spread : s.spread.filter((d) => d !== "node.id") }));
        const result = simulatePlacement(nodes, services);
        const byName = new Map(nodes.map((n) => [n.name, n]));
        for (const usage of result.usage) {
          const n = byName.get(usage.node) as SchedulingNode;
          expect(usage.cpus).toBeLessThanOrEqual(n.cpus + 1e-6);
          expect(usage.memoryMb).toBeLessThanOrEqual(n.memoryMb + 1e-6);
        }
        for (const s of services) {
          const placed = result.placements.filter((p) => p.service === s.name);
          for (const p of placed) expect(s.constraints.every((c) => satisfies(byName.get(p.node) as SchedulingNode, c))).toBe(true);
          if (!s.global && s.maxReplicasPerNode !== undefined) {
            for (const n of nodes) expect(placed.filter((p) => p.node === n.name).length).toBeLessThanOrEqual(s.maxReplicasPerNode);
          }
          const unplaced = result.unplaced.filter((u) => u.service === s.name).length;
          const eligible = nodes.filter((n) => s.constraints.every((c) => satisfies(n, c))).length;
          const expected = s.global ? Math.max(eligible, eligible === 0 ? 1 : 0) : s.replicas;
          expect(placed.length + unplaced).toBe(expected);
        }
      }),
    );
  });
});
