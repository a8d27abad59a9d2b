// The configuration reference, generated from the schema itself: one row per key with its
// type, default and description (each field's `.describe()`). The README's table is this
// output between its markers; a test fails when they differ or a key has no description.
import { z } from "zod";
import { CONFIG_NAMESPACE, SECRET_KEYS, stackConfigSchema } from "./shape";

interface JsonSchema {
  readonly type?: string | string[];
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly anyOf?: readonly JsonSchema[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly propertyNames?: JsonSchema;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly format?: string;
}

export interface ConfigReferenceRow {
  /** Key as `pulumi config set --path` takes it, without the namespace: hosts[].address. */
  readonly key: string;
  readonly type: string;
  /** "required", "optional" or the default value. */
  readonly default: string;
  readonly description: string | undefined;
  readonly secret: boolean;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function typeOf(schema: JsonSchema): string {
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(" \\| ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  if (schema.type === "array") return `list of ${schema.items ? typeOf(schema.items) : "values"}`;
  if (schema.type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object") return `map of ${typeOf(schema.additionalProperties)}`;
  const base = Array.isArray(schema.type) ? schema.type.join(" \\| ") : (schema.type ?? "value");
  const low = schema.minimum !== undefined && schema.minimum > -MAX_SAFE ? schema.minimum : undefined;
  const high = schema.maximum !== undefined && schema.maximum < MAX_SAFE ? schema.maximum : undefined;
  if ((base === "integer" || base === "number") && (low !== undefined || high !== undefined)) return `${base} ${low ?? "…"}–${high ?? "…"}`;
  return schema.format ? `${base} (${schema.format})` : base;
}

/** A default as a reader wants it: image digests shortened, everything else as JSON. */
function shown(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return `\`${text.replace(/@sha256:([0-9a-f]{12})[0-9a-f]{52}/g, "@sha256:$1…")}\``;
}

function isObject(schema: JsonSchema): boolean {
  return schema.type === "object" && schema.properties !== undefined;
}

/**
 * `optionalParent`: the nearest object that may be left out as a whole (edge.acme): its
 * required keys are required only when it is given.
 */
function walk(schema: JsonSchema, key: string, required: boolean, optionalParent: string | undefined, out: ConfigReferenceRow[]): void {
  if (isObject(schema) && schema.description === undefined) {
    const needed = new Set(schema.required ?? []);
    const parent = key !== "" && !required && schema.default === undefined ? key : optionalParent;
    for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, key ? `${key}.${name}` : name, needed.has(name), parent, out);
    return;
  }
  if (schema.type === "array" && schema.items && isObject(schema.items) && schema.description === undefined) {
    walk(schema.items, `${key}[]`, true, optionalParent, out);
    return;
  }
  const requirement = optionalParent ? `required with \`${optionalParent}\`` : "required";
  const fallback = schema.default !== undefined ? shown(schema.default) : required ? requirement : "optional";
  out.push({ key, type: typeOf(schema), default: fallback, description: schema.description, secret: SECRET_KEYS.includes(key) });
}

/** Every documented key of the stack config, in the schema's order. */
export function configReferenceRows(): ConfigReferenceRow[] {
  const json = z.toJSONSchema(stackConfigSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const rows: ConfigReferenceRow[] = [];
  walk(json, "", true, undefined, rows);
  return rows;
}

/** A description as one table cell: no line breaks, pipes escaped, no stray HTML. */
const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ").replace(/</g, "&lt;");

/** The markdown table the README carries between its config-reference markers. */
export function configReferenceMarkdown(): string {
  const rows = configReferenceRows();
  const lines = [
    `| key (\`${CONFIG_NAMESPACE}:…\`) | type | default | meaning |`,
    "|---|---|---|---|",
    ...rows.map((r) => `| \`${r.key}\`${r.secret ? " (secret)" : ""} | ${r.type} | ${r.default} | ${cell(r.description ?? "")} |`),
  ];
  return `${lines.join("\n")}\n`;
}
