// vitest globalSetup: a cache directory for the mocked runs of this one test run (see
// mocked-run.ts), removed at the end.
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ENV = "MEDIANEST_MOCKED_RUN_CACHE";

export default function setup(): () => void {
  const dir = mkdtempSync(path.join(os.tmpdir(), "medianest-mocked-runs-"));
  process.env[ENV] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
