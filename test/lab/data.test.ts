// The test lab, part 2: the data tier and the deployment strategies on the real hosts,
// with faults. A fresh four-host lab is formed into a swarm by the program's own recorded
// commands; the program's own Postgres, Redis/Sentinel and backend services (a mocked run
// of the `lab` stack, through the strict translator, with their secrets and script configs)
// run on a data image debootstrapped from Debian's packages (data-image.ts) and the busybox
// stand-in; its Prometheus, Alertmanager and exporters on monitoring images made the same way
// (monitoring-image.ts). The session and its probes are in data/session.ts and data/probes.ts; each
// scenario file registers its checks, in the order below (later ones build on earlier
// ones' state). Prints a summary table at the end.
// Needs root (skipped otherwise, unless REQUIRE_LAB=1); cleans up like lab.test.ts.
import { afterAll, beforeAll, describe, expect } from "vitest";
import { backupScenarios } from "./data/backups";
import { blueGreenScenario } from "./data/blue-green";
import { contractScenario } from "./data/contract";
import { deployScenario } from "./data/deploy";
import { failoverScenario } from "./data/failover";
import { managerLossScenario } from "./data/manager-loss";
import { monitoringScenario } from "./data/monitoring";
import { postgresScenarios } from "./data/postgres";
import { redisScenario } from "./data/redis";
import { rolloutScenarios } from "./data/rollouts";
import { DataLabSession } from "./data/session";
import { labUnavailableReason } from "./lab-hosts";

const unavailable = labUnavailableReason();
const required = process.env.REQUIRE_LAB === "1";
if (unavailable && !required) console.log(`test:lab (data) skipped: ${unavailable} (set REQUIRE_LAB=1 to make this an error)`);

describe.runIf(!unavailable || required)("test lab, part 2: the data tier and the deployment strategies on real hosts, with faults", () => {
  const session = new DataLabSession();

  beforeAll(async () => {
    if (unavailable) throw new Error(`REQUIRE_LAB=1 but the lab cannot run here: ${unavailable}`);
    await session.setUp();
  }, 900_000);

  afterAll(() => {
    expect(session.tearDown(), "lab leftovers after cleanup").toEqual([]);
  }, 180_000);

  deployScenario(session);
  contractScenario(session);
  monitoringScenario(session);
  postgresScenarios(session);
  redisScenario(session);
  rolloutScenarios(session);
  backupScenarios(session);
  blueGreenScenario(session);
  managerLossScenario(session);
  // Last: it moves the primary for good.
  failoverScenario(session);
});
