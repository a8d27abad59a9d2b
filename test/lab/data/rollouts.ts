// The lab, part 2: an image change rolled out in the engine's order under load (pre-deploy
// backup, migration, backend, frontend: the spec's rolling timeline), and an automatic rollback.
import { expect, it } from "vitest";
import { MEDIANEST_CONTRACT } from "../../../domain/app-contract";
import { SPEC_ROLLING_TIMELINE } from "../../../domain/rollout-timeline";
import { mockedRun, type MockedRun } from "../../support/mocked-run";
import { runOverSsh, runRecordedMigration } from "../commands";
import { replayInEngineOrder, type ReplayedStep } from "../engine-order";
import type { LabHost } from "../lab-hosts";
import { applyNewConfigs, diffPaths, recordedSpec, taskFilter, type SwarmTask } from "../lab-swarm";
import { updateServiceLikeProvider } from "../provider-apply";
import { RequestLoop, type LoopResult } from "../request-loop";
import type { EngineServiceSpec } from "../service-spec";
import { STANDIN_IMAGE, STANDIN_NO_HEALTH, STANDIN_V2 } from "../standin-image";
import { healthUrl, sleep, until } from "./probes";
import { BACKEND, FRONTEND, type DataLabSession } from "./session";

/** An image change rolled out in the engine's order under load, and an automatic rollback. */
export function rolloutScenarios(s: DataLabSession): void {
  const withImage = (image: string) => ({ ...s.config, "medianest:images": { ...(s.config["medianest:images"] as Record<string, string>), backend: image } });
  const withImages = (config: Record<string, unknown>, image: string) => ({ ...config, "medianest:images": { ...(config["medianest:images"] as Record<string, string>), backend: image, frontend: image } });
  const withReplicas = (config: Record<string, unknown>, replicas: { backend: number; frontend: number }) => {
    const services = config["medianest:services"] as Record<string, Record<string, unknown>>;
    return { ...config, "medianest:services": { ...services, backend: { ...services.backend, replicas: replicas.backend }, frontend: { ...services.frontend, replicas: replicas.frontend } } };
  };
  const sshTarget = (host: LabHost) => ({ address: host.address, user: "root", port: 22, keyFile: s.lab.keyFile });

  it("an image change rolls out in the engine's order under a request loop: pre-deploy backup, migration, backend ×3, frontend ×3, no failed request", async () => {
    const { lab, objects, mgr, requireStep, check, tasks, converge, loopHost, done } = s;
    requireStep("deployed");
    const { replicas } = SPEC_ROLLING_TIMELINE;
    // The spec's replica counts for its timeline; the later scenarios keep them.
    s.config = withReplicas(s.config, replicas);
    let scaledRun: MockedRun | undefined;
    await check(`scale to the spec's timeline: backend ×${replicas.backend}, frontend ×${replicas.frontend} (replicas only, no task restarted)`, async () => {
      const v1run = await mockedRun("lab", { config: s.config });
      for (const name of [BACKEND, FRONTEND]) {
        const translation = recordedSpec(v1run, name, objects.refs);
        expect(diffPaths(recordedSpec(s.run, name, objects.refs).spec, translation.spec), name).toEqual(["Mode.Replicated.Replicas"]);
        await updateServiceLikeProvider(mgr(), name, translation);
      }
      scaledRun = v1run;
      const seconds = await converge([BACKEND, FRONTEND], 180_000);
      return `converged in ${seconds.toFixed(0)} s`;
    });

    await check("rolling deploy standin:1 -> standin:2: backup -> migration -> backend -> frontend, next to the spec's timeline", async () => {
      const v2run = await mockedRun("lab", { config: withImages(s.config, STANDIN_V2.image) });
      await applyNewConfigs(mgr(), v2run, objects);
      const v2backend = recordedSpec(v2run, BACKEND, objects.refs);
      const v2frontend = recordedSpec(v2run, FRONTEND, objects.refs);
      for (const [name, translation] of [[BACKEND, v2backend], [FRONTEND, v2frontend]] as const) {
        expect(diffPaths(recordedSpec(scaledRun ?? s.run, name, objects.refs).spec, translation.spec), name).toEqual(["TaskTemplate.ContainerSpec.Image"]);
        const policy = translation.spec.UpdateConfig as NonNullable<EngineServiceSpec["UpdateConfig"]>;
        expect([policy.Parallelism, policy.Order, policy.FailureAction], name).toEqual([1, "start-first", "rollback"]);
      }
      const monitorSeconds = (v2backend.spec.UpdateConfig?.Monitor ?? 0) / 1e9;

      const urls = [healthUrl(BACKEND), `http://tasks.${FRONTEND}:${MEDIANEST_CONTRACT.frontend.port}${MEDIANEST_CONTRACT.frontend.healthPath}`];
      const loop = await RequestLoop.start(loopHost().engine, STANDIN_IMAGE, "frontend-net", urls);
      let migration: { output: string; finishedAt: number } | undefined;
      let backup = "";
      let steps: ReplayedStep[] = [];
      let result: LoopResult;
      let rolloutStarted = 0;
      try {
        await sleep(2_000);
        rolloutStarted = Date.now();
        // What `pulumi up` does with the new images, in its order: every other resource is
        // unchanged (a no-op step), these four are updates.
        steps = await replayInEngineOrder(v2run, async (r) => {
          if (r.type === "command:remote:Command" && r.parent.includes("$medianest:deploy:PreDeployBackup::")) {
            const host = lab.host(r.name.replace(/^predeploy-backup-/, ""));
            const out = await runOverSsh(sshTarget(host), String(r.inputs.create), String(r.inputs.stdin), 600_000);
            if (out.code !== 0) throw new Error(`${r.name} exited ${String(out.code)}: ${out.stderr.trim()}`);
            backup += out.stdout;
            return { outcome: "done", note: out.stdout.trim().split("\n").pop() ?? "" };
          }
          if (r.type === "command:remote:Command" && r.parent.includes("$medianest:deploy:SchemaMigration::")) {
            migration = await runRecordedMigration(sshTarget(lab.host(s.managerName)), r.inputs, objects.refs.secretNames, 600_000);
            return "done";
          }
          if (r.type === "docker:index/service:Service" && (r.name === BACKEND || r.name === FRONTEND)) {
            // The provider's update: POST the new spec, wait until it converged, fail on rollback.
            await updateServiceLikeProvider(mgr(), r.name, r.name === BACKEND ? v2backend : v2frontend);
            return "done";
          }
          return "skipped";
        }, { timeoutMs: 900_000 });
        await sleep(2_000);
      } finally {
        result = await loop.stop().catch(() => ({ requests: 0, failed: -1, byUrl: {}, bodies: {}, failures: ["loop lost"] }));
        await loop.remove();
      }

      // The backup ran a real dump in the running postgres-backup task, before anything else changed.
      expect(backup).toMatch(/changed: pre-deploy backup \/backup\/medianest-\d{8}T\d{6}Z\.dump taken in postgres-backup/);
      // The migration job ran the contract's command from the new image and finished before
      // the first new backend task was created.
      expect(migration?.output).toMatch(/medianest-standin: migrations applied at \d+/);
      expect(migration?.output).toContain(`changed: migrations applied with ${STANDIN_V2.image}`);
      const history = async (name: string) => (await mgr().get<SwarmTask[]>(taskFilter({ service: [name] })));
      const fresh = async (name: string) =>
        (await history(name)).filter((t) => t.Spec.ContainerSpec?.Image === STANDIN_V2.image && t.DesiredState === "running").sort((a, b) => Date.parse(a.CreatedAt) - Date.parse(b.CreatedAt));
      const newBackends = await fresh(BACKEND);
      const newFrontends = await fresh(FRONTEND);
      expect(newBackends).toHaveLength(replicas.backend);
      expect(newFrontends).toHaveLength(replicas.frontend);
      const firstBackend = Date.parse(newBackends[0].CreatedAt);
      expect(firstBackend, "the first new backend task is created after the migration finished").toBeGreaterThan(migration?.finishedAt ?? Infinity);
      // The frontend rolls only after the backend has converged (its dependency).
      const lastBackendRunning = Math.max(...newBackends.map((t) => Date.parse(t.Status.Timestamp as string)));
      expect(Date.parse(newFrontends[0].CreatedAt), "the first new frontend task after the last new backend task runs").toBeGreaterThan(lastBackendRunning);
      // One task at a time, each new one running before the old one of its slot stopped.
      for (const [name, news] of [[BACKEND, newBackends], [FRONTEND, newFrontends]] as const) {
        const all = await history(name);
        const runningAt = (t: SwarmTask) => Date.parse(t.Status.Timestamp as string);
        for (let i = 1; i < news.length; i++) expect(Date.parse(news[i].CreatedAt), `${name}: one task at a time`).toBeGreaterThanOrEqual(runningAt(news[i - 1]));
        for (const t of news) {
          const old = all.find((o) => o.Slot === t.Slot && o.Spec.ContainerSpec?.Image === STANDIN_IMAGE && o.DesiredState !== "running");
          expect(old, `${name} slot ${t.Slot}: the replaced task`).toBeDefined();
          expect(Date.parse(old?.Status.Timestamp as string), `${name} slot ${t.Slot}: old task stopped after the new one ran (start-first)`).toBeGreaterThanOrEqual(runningAt(t));
        }
      }
      for (const name of [BACKEND, FRONTEND]) expect((await tasks(name)).filter((t) => t.Status.State === "running")).toHaveLength(name === BACKEND ? replicas.backend : replicas.frontend);
      expect(result.bodies['{"status":"ok","version":"2"}'] ?? 0, "backend requests answered by the new version").toBeGreaterThan(0);
      expect(result.failures, "failed requests").toEqual([]);

      // The timeline, per phase, next to the spec's.
      const at = (ms: number) => (ms - rolloutStarted) / 1000;
      const stepOf = (match: (r: ReplayedStep) => boolean) => steps.filter(match);
      const span = (list: ReplayedStep[]) => (list.length === 0 ? undefined : { start: Math.min(...list.map((x) => x.start)) / 1000, end: Math.max(...list.map((x) => x.end)) / 1000 });
      const measured: Record<string, { start: number; end: number } | undefined> = {
        backup: span(stepOf((x) => x.resource.parent.includes("$medianest:deploy:PreDeployBackup::") && x.outcome === "done")),
        migration: span(stepOf((x) => x.resource.parent.includes("$medianest:deploy:SchemaMigration::"))),
        backend: span(stepOf((x) => x.resource.name === BACKEND)),
        frontend: span(stepOf((x) => x.resource.name === FRONTEND)),
      };
      // The rollout waits for the backup: the migration (and so every new task) starts after it ended.
      expect(measured.backup, "the pre-deploy backup ran").toBeDefined();
      expect(measured.migration?.start ?? -1, "the migration starts after the pre-deploy backup ended").toBeGreaterThanOrEqual(measured.backup?.end ?? Infinity);
      const taskTimes = (news: SwarmTask[]) => news.map((t) => `${at(Date.parse(t.CreatedAt)).toFixed(0)}→${at(Date.parse(t.Status.Timestamp as string)).toFixed(0)}`).join(", ");
      const total = Math.max(...Object.values(measured).map((m) => m?.end ?? 0));
      const fmt = (start?: number, end?: number) => (start === undefined || end === undefined ? "—" : `${start.toFixed(0)}–${end.toFixed(0)} s`);
      const rows = SPEC_ROLLING_TIMELINE.windows.map((w) => {
        const m = w.phase === "verification" ? undefined : measured[w.phase];
        const extra =
          w.phase === "backend" ? `tasks created→running ${taskTimes(newBackends)}, then the ${monitorSeconds} s monitor window`
          : w.phase === "frontend" ? `tasks created→running ${taskTimes(newFrontends)}, then the ${monitorSeconds} s monitor window`
          : w.phase === "verification" ? `the request loop ran throughout: ${result.requests} requests, ${result.failed} failed`
          : "";
        return `  ${w.label.padEnd(22)} spec ${fmt(w.start, w.end).padEnd(10)} lab ${fmt(m?.start, m?.end).padEnd(10)} ${extra}`;
      });
      const longest = Object.entries(measured).sort((a, b) => ((b[1]?.end ?? 0) - (b[1]?.start ?? 0)) - ((a[1]?.end ?? 0) - (a[1]?.start ?? 0)))[0];
      console.log(
        [
          `rolling deploy timeline (${replicas.backend} backend + ${replicas.frontend} frontend tasks; spec total ${SPEC_ROLLING_TIMELINE.totalSeconds} s):`,
          ...rows,
          `  total                  spec ${SPEC_ROLLING_TIMELINE.totalSeconds} s      lab ${total.toFixed(0)} s; failed requests ${result.failed} (goal 0); longest phase: ${longest[0]}`,
        ].join("\n"),
      );
      done.add("rolling");
      return `total ${total.toFixed(0)} s (spec ${SPEC_ROLLING_TIMELINE.totalSeconds} s): backup ${fmt(measured.backup?.start, measured.backup?.end)}, migration ${fmt(measured.migration?.start, measured.migration?.end)}, backend ${fmt(measured.backend?.start, measured.backend?.end)}, frontend ${fmt(measured.frontend?.start, measured.frontend?.end)}; migration done ${((firstBackend - (migration?.finishedAt ?? 0)) / 1000).toFixed(1)} s before the first new backend task; requests ${result.requests}, failed ${result.failed}`;
    });
  }, 900_000);

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
