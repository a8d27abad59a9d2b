// Probes shared by the lab's data scenarios: bounded waits and the summary table.
import { MEDIANEST_CONTRACT } from "../../../domain/app-contract";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const since = (t: number) => (Date.now() - t) / 1000;

/** The backend's health URL as its health check uses it, by service name. */
export const healthUrl = (service: string) => `http://tasks.${service}:${MEDIANEST_CONTRACT.backend.port}${MEDIANEST_CONTRACT.backend.healthPath}`;

/** Polls `probe` every `intervalMs` until it returns a value, at most `timeoutMs` (and a bounded number of tries). */
export async function until<T>(what: string, timeoutMs: number, intervalMs: number, probe: () => Promise<T | undefined>): Promise<{ value: T; seconds: number }> {
  const started = Date.now();
  const tries = Math.ceil(timeoutMs / intervalMs) + 1;
  let last: unknown;
  for (let i = 0; i < tries && Date.now() - started <= timeoutMs; i++) {
    try {
      const value = await probe();
      if (value !== undefined) return { value, seconds: since(started) };
      last = undefined;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

/** One row of the printed summary: a check, its result and how long it took. */
export interface SummaryRow {
  check: string;
  result: "pass" | "FAIL";
  seconds: number;
  detail: string;
}

export function summaryTable(rows: readonly SummaryRow[], totalSeconds: number): string {
  const width = Math.max(...rows.map((r) => r.check.length), 5);
  return [
    `${"check".padEnd(width)} | result | seconds | detail`,
    `${"-".repeat(width)}-|--------|---------|-------`,
    ...rows.map((r) => `${r.check.padEnd(width)} | ${r.result.padEnd(6)} | ${r.seconds.toFixed(1).padStart(7)} | ${r.detail}`),
    `total lab (data) time: ${totalSeconds.toFixed(0)} s`,
  ].join("\n");
}
