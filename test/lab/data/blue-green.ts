// The lab, part 2: Blue-green: both colors converge; a flip changes only Traefik labels.
import { expect, it } from "vitest";
import { mockedRun, type MockedRun } from "../../support/mocked-run";
import { applyNewConfigs, diffPaths, recordedSpec } from "../lab-swarm";
import { createServiceLikeProvider } from "../provider-apply";
import { RequestLoop } from "../request-loop";
import { STANDIN_IMAGE, STANDIN_V2 } from "../standin-image";
import { healthUrl, sleep } from "./probes";
import { BACKEND, type DataLabSession } from "./session";

/** Blue-green: both colors converge; a flip changes only Traefik labels. */
export function blueGreenScenario(s: DataLabSession): void {
  it("blue-green: both colors converge; flipping activeColor changes only the Traefik labels, no failed request", async () => {
    const { config, objects, mgr, requireStep, check, service, tasks, converge, update, loopHost, done } = s;
    requireStep("deployed");
    const colors = ["blue", "green"] as const;
    const names = colors.map((c) => `${BACKEND}-${c}`);
    const bg = (active: "blue" | "green") => ({
      ...config,
      "medianest:deployment": { strategy: "blue-green", activeColor: active, images: { green: STANDIN_V2.image } },
    });
    const routed = (labels: Record<string, string>) => labels["traefik.enable"] === "true";
    let blueRun!: MockedRun;
    await check("blue-green: both colors deploy and converge (blue routed)", async () => {
      blueRun = await mockedRun("lab", { config: bg("blue") });
      await applyNewConfigs(mgr(), blueRun, objects);
      expect(blueRun.ofType("docker:index/service:Service").map((s) => s.name)).not.toContain(BACKEND);
      // The rolling backend leaves the program: pulumi deletes it.
      await mgr().request("DELETE", `/services/${BACKEND}`);
      for (const name of names) await createServiceLikeProvider(mgr(), recordedSpec(blueRun, name, objects.refs), 300_000);
      const seconds = await converge(names, 300_000);
      const [blue, green] = await Promise.all(names.map((n) => service(n)));
      expect([routed(blue.Spec.Labels), routed(green.Spec.Labels)]).toEqual([true, false]);
      expect([blue.Spec.TaskTemplate.ContainerSpec.Image, green.Spec.TaskTemplate.ContainerSpec.Image]).toEqual([STANDIN_IMAGE, STANDIN_V2.image]);
      return `converged in ${seconds.toFixed(0)} s; blue ${STANDIN_IMAGE} routed, green ${STANDIN_V2.image} idle`;
    });

    await check("blue-green: flip to green and back = Traefik label changes only, no task restarted, no failed request", async () => {
      const loop = await RequestLoop.start(loopHost().engine, STANDIN_IMAGE, "frontend-net", names.map(healthUrl));
      try {
        const taskIds = async () => (await Promise.all(names.map((n) => tasks(n)))).flat().map((t) => t.ID).sort();
        const idsBefore = await taskIds();
        const flips: string[] = [];
        const runs = { blue: blueRun, green: await mockedRun("lab", { config: bg("green") }) };
        for (const active of ["green", "blue"] as const) {
          const from = runs[active === "green" ? "blue" : "green"];
          const to = runs[active];
          for (const name of names) {
            const changed = diffPaths(recordedSpec(from, name, objects.refs).spec, recordedSpec(to, name, objects.refs).spec);
            expect(changed.length, `${name}: the flip changes something`).toBeGreaterThan(0);
            expect(changed.filter((p) => !/^Labels\.traefik\./.test(p)), `${name}: the flip changes more than Traefik labels`).toEqual([]);
            const { before, outcome } = await update(name, recordedSpec(to, name, objects.refs));
            await outcome;
            const after = await service(name);
            const stored = diffPaths(before.Spec, after.Spec);
            expect(stored.filter((p) => !/^Labels\.traefik\./.test(p)), `${name}: engine spec diff`).toEqual([]);
            flips.push(`${active}: ${name} ${stored.length} labels`);
          }
          const [blue, green] = await Promise.all(names.map((n) => service(n)));
          expect([routed(blue.Spec.Labels), routed(green.Spec.Labels)]).toEqual([active === "blue", active === "green"]);
          await sleep(3_000);
        }
        const result = await loop.stop();
        expect(await taskIds(), "no task was replaced by the flips").toEqual(idsBefore);
        for (const url of names.map(healthUrl)) expect(result.byUrl[url].ok, `${url} answered`).toBeGreaterThan(0);
        expect(result.failures, "failed requests").toEqual([]);
        done.add("blue-green");
        return `${flips.join("; ")}; requests blue ${result.byUrl[healthUrl(names[0])].ok}, green ${result.byUrl[healthUrl(names[1])].ok}, failed ${result.failed}; Traefik routing itself not provable (no Traefik binary)`;
      } finally {
        await loop.remove();
      }
    });
  }, 600_000);
}
