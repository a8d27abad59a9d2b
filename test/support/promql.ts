// The metric selectors of a PromQL expression, read with Prometheus' own grammar
// (@prometheus-io/lezer-promql, the parser of Prometheus' web UI), so every selector
// counts: inside functions, aggregations, binary operations, subqueries and `offset`,
// `{__name__="..."}` included. Anything the grammar cannot parse is an error.
import { parser } from "@prometheus-io/lezer-promql";

export interface Selector {
  /** The metric name the selector reads. */
  readonly name: string;
  /** Its label matchers (name, operator, value). */
  readonly matchers: readonly { readonly label: string; readonly op: "=" | "!=" | "=~" | "!~"; readonly value: string }[];
}

/** A PromQL string literal's value ("..." with Go escapes, '...', or `...`). */
function stringValue(literal: string): string {
  if (literal.startsWith("`")) return literal.slice(1, -1);
  if (literal.startsWith("'")) return JSON.parse(`"${literal.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"')}"`) as string;
  return JSON.parse(literal) as string;
}

export function selectors(expr: string): Selector[] {
  const tree = parser.parse(expr);
  const found: Selector[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: ${JSON.stringify(expr.slice(Math.max(0, node.from - 20), node.to + 20))}`);
      if (node.name !== "VectorSelector") return;
      const identifier = node.node.getChild("Identifier");
      const matchers: { label: string; op: "=" | "!=" | "=~" | "!~"; value: string }[] = [];
      const list = node.node.getChild("LabelMatchers");
      for (const matcher of list?.getChildren("UnquotedLabelMatcher") ?? []) {
        const label = matcher.getChild("LabelName");
        const op = matcher.getChild("MatchOp");
        const value = matcher.getChild("StringLiteral");
        if (!label || !op || !value) throw new Error(`unreadable label matcher in ${expr}`);
        matchers.push({ label: expr.slice(label.from, label.to), op: expr.slice(op.from, op.to) as "=" | "!=" | "=~" | "!~", value: stringValue(expr.slice(value.from, value.to)) });
      }
      if ((list?.getChildren("QuotedLabelMatcher").length ?? 0) > 0 || (list?.getChildren("QuotedLabelName").length ?? 0) > 0) {
        throw new Error(`quoted metric or label names are not checked: ${expr}`);
      }
      const byName = matchers.find((m) => m.label === "__name__");
      const name = identifier ? expr.slice(identifier.from, identifier.to) : byName?.op === "=" ? byName.value : undefined;
      if (name === undefined) throw new Error(`selector without a metric name (cannot be checked): ${expr.slice(node.from, node.to)}`);
      found.push({ name, matchers: matchers.filter((m) => m.label !== "__name__") });
    },
  });
  if (errors.length > 0) throw new Error(`PromQL does not parse: ${expr}\n${errors.join("\n")}`);
  return found;
}

/** Whether a label value satisfies a matcher (regexes are fully anchored, as in Prometheus). */
export function matches(matcher: Selector["matchers"][number], value: string): boolean {
  switch (matcher.op) {
    case "=":
      return value === matcher.value;
    case "!=":
      return value !== matcher.value;
    case "=~":
      return new RegExp(`^(?:${matcher.value})$`).test(value);
    case "!~":
      return !new RegExp(`^(?:${matcher.value})$`).test(value);
  }
}
