// Durations in the form the docker provider stores them. The provider parses a declared
// duration with Go's time.ParseDuration and reads it back as shortDur(d.String())
// (terraform-provider-docker v4.5.0 resource_docker_service_structures.go: shortDur
// trims "m0s" and "h0m", so 120s → "2m", 90s → "1m30s", 3600s → "1h"). A declared
// "120s" therefore differs from the stored "2m" on every run: everything we declare goes
// through providerDuration.

const UNIT_NS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds ("0", "10s", "1m30s", "500ms"). */
export function parseGoDuration(text: string): number {
  if (text === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * UNIT_NS[m[2]];
    matched = re.lastIndex;
  }
  if (text === "" || matched !== text.length) throw new Error(`"${text}" is not a Go duration (e.g. 10s, 1m30s)`);
  return Math.round(total);
}

function trimFraction(value: number, digits: number): string {
  return value.toFixed(digits).replace(/\.?0+$/, "");
}

/** Go's time.Duration.String(). */
export function goDurationString(ns: number): string {
  if (!Number.isInteger(ns) || ns < 0) throw new Error(`duration ${ns} ns: whole, non-negative nanoseconds only`);
  if (ns === 0) return "0s";
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${trimFraction(ns / 1e3, 3)}µs`;
  if (ns < 1e9) return `${trimFraction(ns / 1e6, 6)}ms`;
  const hours = Math.floor(ns / 3600e9);
  const minutes = Math.floor((ns % 3600e9) / 60e9);
  const seconds = trimFraction((ns % 60e9) / 1e9, 9);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

/** The provider's shortDur: Duration.String() without a trailing "m0s" / "h0m". */
export function shortDuration(ns: number): string {
  let s = goDurationString(ns);
  if (s.endsWith("m0s")) s = s.slice(0, -2);
  if (s.endsWith("h0m")) s = s.slice(0, -2);
  return s;
}

/** A declared duration in the form the provider reads back (and so stores). */
export function providerDuration(text: string): string {
  return shortDuration(parseGoDuration(text));
}
