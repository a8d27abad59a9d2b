// A bounded HTTP request loop in a client container on an attachable overlay network: each
// request resolves the name anew (busybox wget, no DNS cache) and has its own timeout.
// It counts only after its first answer (a new container's name resolution may take a
// moment); it ends after `maxRequests` rounds, `maxSeconds`, or when told to stop.
import type { Engine } from "./engine";
import { demuxLogs } from "./engine";

const LOOP_SCRIPT = `
max="$1"; secs="$2"; shift 2
start=$(date +%s); end=$((start + secs)); w=0
until timeout 3 wget -q -O /dev/null "$1" 2>/dev/null; do
  w=$((w + 1)); [ "$w" -lt 60 ] || { echo "never-ready"; exit 3; }; sleep 0.5
done
echo ready
i=0
while [ "$i" -lt "$max" ] && [ "$(date +%s)" -lt "$end" ] && [ ! -e /tmp/stop ]; do
  for url in "$@"; do
    if body=$(timeout 3 wget -q -O- "$url" 2>&1); then echo "ok $url $body"; else echo "fail $(date +%s) $url $body" | tr '\\n' ' '; echo; fi
  done
  i=$((i + 1))
  sleep 0.1
done
echo "done $i"
`;

export interface LoopResult {
  readonly requests: number;
  readonly failed: number;
  /** Per URL: answered and failed requests. */
  readonly byUrl: Record<string, { ok: number; failed: number }>;
  /** How often each response body was seen, e.g. {"status":"ok","version":"2"}. */
  readonly bodies: Record<string, number>;
  readonly failures: string[];
}

export class RequestLoop {
  private constructor(
    private readonly engine: Engine,
    private readonly id: string,
    readonly urls: readonly string[],
  ) {}

  /** Starts the loop and waits (bounded) until it answers. */
  static async start(engine: Engine, image: string, network: string, urls: readonly string[], maxRequests = 4000, maxSeconds = 420): Promise<RequestLoop> {
    const created = await engine.post<{ Id: string }>("/containers/create", {
      Image: image,
      Cmd: ["sh", "-c", LOOP_SCRIPT, "request-loop", String(maxRequests), String(maxSeconds), ...urls],
      Labels: { "com.medianest.lab": "request-loop" },
      HostConfig: { NetworkMode: network },
    });
    const loop = new RequestLoop(engine, created.Id, urls);
    try {
      await engine.post(`/containers/${created.Id}/start`);
      for (let i = 0; i < 80; i++) {
        const logs = await loop.logs();
        if (logs.includes("ready\n")) return loop;
        if (logs.includes("never-ready")) throw new Error(`request loop: ${urls[0]} never answered`);
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`request loop: not ready after 40 s: ${(await loop.logs()).slice(-500)}`);
    } catch (error) {
      await loop.remove();
      throw error;
    }
  }

  private async logs(): Promise<string> {
    const res = await this.engine.request("GET", `/containers/${this.id}/logs?stdout=1&stderr=1`);
    return demuxLogs(res.body);
  }

  async remove(): Promise<void> {
    await this.engine.request("DELETE", `/containers/${this.id}?force=1`).catch(() => undefined);
  }

  /** Stops the loop (bounded wait) and counts; the container is removed. */
  async stop(): Promise<LoopResult> {
    try {
      const stop = await this.engine.post<{ Id: string }>(`/containers/${this.id}/exec`, { Cmd: ["touch", "/tmp/stop"] });
      await this.engine.request("POST", `/exec/${stop.Id}/start`, { Detach: false, Tty: false });
      await this.engine.post(`/containers/${this.id}/wait`, undefined, 20_000);
      const lines = (await this.logs()).split("\n");
      const byUrl: LoopResult["byUrl"] = Object.fromEntries(this.urls.map((u) => [u, { ok: 0, failed: 0 }]));
      const bodies: Record<string, number> = {};
      const failures: string[] = [];
      for (const line of lines) {
        const ok = /^ok (\S+) (.*)$/.exec(line);
        if (ok) {
          byUrl[ok[1]].ok++;
          bodies[ok[2]] = (bodies[ok[2]] ?? 0) + 1;
          continue;
        }
        const fail = /^fail (\d+) (\S+) ?(.*)$/.exec(line);
        if (fail) {
          byUrl[fail[2]].failed++;
          failures.push(line);
        }
      }
      if (!lines.some((l) => l.startsWith("done "))) throw new Error(`request loop did not finish: ${lines.slice(-5).join(" | ")}`);
      const failed = failures.length;
      const requests = Object.values(byUrl).reduce((n, c) => n + c.ok + c.failed, 0);
      return { requests, failed, byUrl, bodies, failures };
    } finally {
      await this.remove();
    }
  }
}
