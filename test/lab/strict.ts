// Strict reading of recorded Pulumi inputs for the lab's translators: every field of an
// input object must be read by the translator, or `done()` throws and names the fields it
// left unmapped. So a field the program starts to set is never silently dropped on the
// way to the Engine API.
import { parseGoDuration } from "../../domain/durations";

export class UnmappedFieldError extends Error {
  constructor(readonly fields: readonly string[]) {
    super(`the lab translator does not map these input field(s): ${fields.join(", ")}`);
    this.name = "UnmappedFieldError";
  }
}

export class InputTypeError extends Error {
  constructor(path: string, expected: string, value: unknown) {
    super(`${path}: expected ${expected}, got ${JSON.stringify(value)}`);
    this.name = "InputTypeError";
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One input object whose fields are read one by one; `done()` fails on any field left unread. */
export class Fields {
  private readonly read = new Set<string>();

  private constructor(
    private readonly value: Record<string, unknown>,
    readonly path: string,
  ) {}

  static of(value: unknown, path: string): Fields {
    if (!isPlainObject(value)) throw new InputTypeError(path, "an object", value);
    return new Fields(value, path);
  }

  private take(key: string): unknown {
    this.read.add(key);
    const value = this.value[key];
    return value === null ? undefined : value;
  }

  at(key: string): string {
    return `${this.path}.${key}`;
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  optString(key: string): string | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string") throw new InputTypeError(this.at(key), "a string", value);
    return value;
  }

  string(key: string): string {
    const value = this.optString(key);
    if (value === undefined) throw new InputTypeError(this.at(key), "a string", value);
    return value;
  }

  optNumber(key: string): number | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value)) throw new InputTypeError(this.at(key), "a number", value);
    return value;
  }

  number(key: string): number {
    const value = this.optNumber(key);
    if (value === undefined) throw new InputTypeError(this.at(key), "a number", value);
    return value;
  }

  optBoolean(key: string): boolean | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") throw new InputTypeError(this.at(key), "a boolean", value);
    return value;
  }

  optStrings(key: string): string[] | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new InputTypeError(this.at(key), "a list of strings", value);
    return [...(value as string[])];
  }

  optStringMap(key: string): Record<string, string> | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === "string")) {
      throw new InputTypeError(this.at(key), "a map of strings", value);
    }
    return { ...(value as Record<string, string>) };
  }

  optObject(key: string): Fields | undefined {
    const value = this.take(key);
    return value === undefined ? undefined : Fields.of(value, this.at(key));
  }

  object(key: string): Fields {
    const value = this.optObject(key);
    if (!value) throw new InputTypeError(this.at(key), "an object", undefined);
    return value;
  }

  optObjects(key: string): Fields[] | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw new InputTypeError(this.at(key), "a list of objects", value);
    return value.map((item, i) => Fields.of(item, `${this.at(key)}[${i}]`));
  }

  /** Fields present but never read (null/undefined values count as absent). */
  unread(): string[] {
    return Object.keys(this.value)
      .filter((key) => !this.read.has(key) && this.value[key] !== undefined && this.value[key] !== null)
      .map((key) => this.at(key));
  }
}

/** Collects the Fields objects a translation read, to check them all at the end. */
export class StrictReader {
  private readonly all: Fields[] = [];

  of(value: unknown, path: string): Fields {
    return this.track(Fields.of(value, path));
  }

  track(fields: Fields): Fields {
    this.all.push(fields);
    return fields;
  }

  obj(parent: Fields, key: string): Fields {
    return this.track(parent.object(key));
  }

  optObj(parent: Fields, key: string): Fields | undefined {
    const value = parent.optObject(key);
    return value ? this.track(value) : undefined;
  }

  objs(parent: Fields, key: string): Fields[] {
    return (parent.optObjects(key) ?? []).map((f) => this.track(f));
  }

  /** Throws UnmappedFieldError listing every field any tracked object left unread. */
  done(): void {
    const unread = this.all.flatMap((f) => f.unread());
    if (unread.length > 0) throw new UnmappedFieldError(unread);
  }
}

/** Go's time.ParseDuration (as the docker provider parses "10s", "1m30s", "500ms"), in nanoseconds. */
export function goDurationNs(text: string, path: string): number {
  try {
    return parseGoDuration(text);
  } catch {
    throw new InputTypeError(path, "a Go duration (e.g. 10s, 1m30s)", text);
  }
}
