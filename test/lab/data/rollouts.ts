// The lab, part 2: The backend's rolling update under load, and an automatic rollback.
import { expect, it } from "vitest";
import { mockedRun } from "../../support/mocked-run";
import { applyNewConfigs, diffPaths, recordedSpec, taskFilter, type EngineService, type SwarmTask } from "../lab-swarm";
import { RequestLoop, type LoopResult } from "../request-loop";
import type { EngineServiceSpec } from "../service-spec";
import { STANDIN_IMAGE, STANDIN_NO_HEALTH, STANDIN_V2 } from "../standin-image";
import { healthUrl, sleep, until } from "./probes";
import { BACKEND, type DataLabSession } from "./session";

/** The backend's rolling update under load, and an automatic rollback. */
export function rolloutScenarios(s: DataLabSession): void {
  const withImage = (image: string) => ({ ...s.config, "medianest:images": { ...(s.config["medianest:images"] as Record<string, string>), backend: image } });

  it("rolling update of the backend under a request loop: one task at a time, start-first, no failed request", async () => {
    const { run, objects, mgr, requireStep, check, service, tasks, update, loopHost, done } = s;
    requireStep("deployed");
    await check("rolling update standin:1 -> standin:2 under load", async () => {
      const v2run = await mockedRun("lab", { config: withImage(STANDIN_V2.image) });
      await applyNewConfigs(mgr(), v2run, objects);
      const { spec: v1 } = recordedSpec(run, BACKEND, objects.refs);
      const v2translation = recordedSpec(v2run, BACKEND, objects.refs);
      const v2 = v2translation.spec;
      expect(diffPaths(v1, v2)).toEqual(["TaskTemplate.ContainerSpec.Image"]);
      const policy = v2.UpdateConfig as NonNullable<EngineServiceSpec["UpdateConfig"]>;
      expect([policy.Parallelism, policy.Order, policy.FailureAction]).toEqual([1, "start-first", "rollback"]);
      const replicas = "Replicated" in v2.Mode ? v2.Mode.Replicated.Replicas : 0;

      const loop = await RequestLoop.start(loopHost().engine, STANDIN_IMAGE, "frontend-net", [healthUrl(BACKEND)]);
      let result: LoopResult;
      let minRunning = Infinity;
      let before: EngineService;
      try {
        await sleep(2_000);
        const provider = await update(BACKEND, v2translation);
        before = provider.before;
        const { value: after } = await until("the update completes", 300_000, 1_000, async () => {
          const s = await service(BACKEND);
          const ts = await tasks(BACKEND);
          minRunning = Math.min(minRunning, ts.filter((t) => t.Status.State === "running").length);
          if (s.UpdateStatus && /paused|rollback/.test(s.UpdateStatus.State)) throw new Error(`update ${s.UpdateStatus.State}: ${s.UpdateStatus.Message}`);
          return s.UpdateStatus?.State === "completed" ? s : undefined;
        });
        // The provider's own wait ends as well, without an error.
        await provider.outcome;
        await sleep(2_000);
        result = await loop.stop();
        expect(diffPaths(before.Spec, after.Spec)).toEqual(["TaskTemplate.ContainerSpec.Image"]);
        const started = Date.parse(after.UpdateStatus?.StartedAt as string);
        const completed = Date.parse(after.UpdateStatus?.CompletedAt as string);
        const duration = (completed - started) / 1000;

        // The task history: each new task runs before the old one of its slot stops
        // (start-first), and the next new task is only created after the previous one runs.
        const history = await mgr().get<SwarmTask[]>(taskFilter({ service: [BACKEND] }));
        const fresh = history.filter((t) => t.Spec.ContainerSpec?.Image === STANDIN_V2.image && t.DesiredState === "running").sort((a, b) => Date.parse(a.CreatedAt) - Date.parse(b.CreatedAt));
        expect(fresh).toHaveLength(replicas);
        expect(fresh.every((t) => t.Status.State === "running")).toBe(true);
        const runningAt = (t: SwarmTask) => Date.parse(t.Status.Timestamp as string);
        for (let i = 1; i < fresh.length; i++) expect(Date.parse(fresh[i].CreatedAt), "one task at a time").toBeGreaterThanOrEqual(runningAt(fresh[i - 1]));
        for (const t of fresh) {
          const old = history.find((o) => o.Slot === t.Slot && o.Spec.ContainerSpec?.Image === STANDIN_IMAGE && o.DesiredState !== "running");
          expect(old, `slot ${t.Slot}: the replaced task`).toBeDefined();
          expect(Date.parse(old?.Status.Timestamp as string), `slot ${t.Slot}: old task stopped after the new one ran (start-first)`).toBeGreaterThanOrEqual(runningAt(t));
        }
        expect(minRunning, "running tasks during the update").toBeGreaterThanOrEqual(replicas);
        const lastRunning = (Math.max(...fresh.map(runningAt)) - started) / 1000;
        expect(result.bodies['{"status":"ok","version":"2"}'] ?? 0, "requests answered by the new version").toBeGreaterThan(0);
        expect(result.failures, "failed requests").toEqual([]);
        done.add("rolling");
        return `update ${duration.toFixed(0)} s for ${replicas} tasks (last new task running at ${lastRunning.toFixed(0)} s, then the ${policy.Monitor / 1e9} s monitor window; spec timeline: backend 3 tasks in 60 s, all done by 180 s); requests ${result.requests}, failed ${result.failed}; min running ${minRunning}/${replicas}`;
      } finally {
        await loop.remove();
      }
    });
  }, 420_000);

  it("an update whose health check fails is rolled back automatically, never below the configured replicas", async () => {
    const { objects, requireStep, check, service, tasks, running, converge, update, loopHost, done } = s;
    requireStep("rolling");
    await check("automatic rollback of standin:3-nohealth", async () => {
      const badRun = await mockedRun("lab", { config: withImage(STANDIN_NO_HEALTH.image) });
      const badTranslation = recordedSpec(badRun, BACKEND, objects.refs);
      const bad = badTranslation.spec;
      const replicas = "Replicated" in bad.Mode ? bad.Mode.Replicated.Replicas : 0;
      const policy = bad.UpdateConfig as NonNullable<EngineServiceSpec["UpdateConfig"]>;
      // start-first keeps every old task until its successor runs: the minimum is all replicas.
      const minimum = policy.Order === "start-first" ? replicas : replicas - policy.Parallelism;
      const loop = await RequestLoop.start(loopHost().engine, STANDIN_IMAGE, "frontend-net", [healthUrl(BACKEND)]);
      try {
        const { before, outcome } = await update(BACKEND, badTranslation);
        const states: string[] = [];
        let minHealthy = Infinity;
        const { value: after, seconds } = await until("the service rolls back", 360_000, 1_000, async () => {
          const s = await service(BACKEND);
          const state = s.UpdateStatus?.State ?? "none";
          if (states[states.length - 1] !== state) states.push(state);
          // Healthy: running (Swarm reports a task with a health check running once healthy) on the old image.
          const healthy = (await tasks(BACKEND)).filter((t) => t.Status.State === "running" && t.Spec.ContainerSpec?.Image === STANDIN_V2.image);
          minHealthy = Math.min(minHealthy, healthy.length);
          if (state === "rollback_paused" || state === "paused") throw new Error(`update ${state}: ${s.UpdateStatus?.Message}`);
          return state === "rollback_completed" ? s : undefined;
        });
        const result = await loop.stop();
        // For the provider a rolled-back update is a failed one: `pulumi up` reports it.
        await expect(outcome).rejects.toThrow(/service rollback completed/);
        expect(diffPaths(before.Spec, after.Spec), "the service's spec is the previous one again").toEqual([]);
        await converge([BACKEND], 120_000);
        const images = (await running(BACKEND)).map((t) => t.task.Spec.ContainerSpec?.Image);
        expect(images).toEqual(Array(replicas).fill(STANDIN_V2.image));
        expect(minHealthy, "healthy old-version tasks during the update").toBeGreaterThanOrEqual(minimum);
        expect(result.failures, "failed requests").toEqual([]);
        done.add("rollback");
        return `rollback_completed after ${seconds.toFixed(0)} s (${states.join(" -> ")}), reported by the provider as a failed update; min healthy ${minHealthy} >= ${minimum}; requests ${result.requests}, failed ${result.failed}`;
      } finally {
        await loop.remove();
      }
    });
  }, 480_000);
}
