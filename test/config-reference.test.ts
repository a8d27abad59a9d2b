// The README's configuration reference is the schema's: every key has a description, the
// table in README.md is exactly what tools/config-reference.ts generates, and every key the
// README names in backticks as medianest:<key> exists.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configReferenceRows } from "../config/reference";
import { APP_SECRETS_KEY, SECRET_CONFIG_KEYS } from "../config/schema";
import { README, withReference } from "../tools/config-reference";

describe("configuration reference", () => {
  const rows = configReferenceRows();

  it("documents every key of the schema, secrets included", () => {
    expect(rows.filter((r) => !r.description).map((r) => r.key)).toEqual([]);
    for (const key of ["services.reservationScale", "capacity.expectedUsers", "s3.region", "images.nodeExporter", "hosts[].hostKey", "hostSetup.sshdMaxSessions"]) {
      expect(rows.map((r) => r.key)).toContain(key);
    }
    expect(rows.filter((r) => r.secret).map((r) => r.key).sort()).toEqual([...SECRET_CONFIG_KEYS, APP_SECRETS_KEY].sort());
  });

  it("README.md carries the generated table (run `npm run docs:config` after a schema change)", () => {
    const readme = readFileSync(README, "utf8");
    expect(withReference(readme)).toBe(readme);
  });

  it("every medianest:<key> the README mentions is a key of the schema", () => {
    const readme = readFileSync(README, "utf8");
    const known = rows.map((r) => r.key.replace(/\[\]/g, ""));
    const mentioned = [...readme.matchAll(/medianest:([a-zA-Z][\w.[\]]*)/g)].map((m) => m[1].replace(/\[\d*\]/g, "").replace(/\.$/, ""));
    // A map's entries (appSecrets.<file>) are keys of their own.
    const maps = rows.filter((r) => r.type.startsWith("map of")).map((r) => r.key);
    const unknown = [...new Set(mentioned)].filter((key) => !known.some((k) => k === key || k.startsWith(`${key}.`)) && !maps.some((m) => key.startsWith(`${m}.`)));
    expect(unknown).toEqual([]);
  });
});
