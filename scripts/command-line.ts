// How our scripts are invoked: `[sudo -n] bash -s -- <args>` with the script on stdin.
// One quoting rule and its one parser, shared by the program, the policies, the tests and the lab.

export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** POSIX shell words of a command line as `shellQuote` writes them (bare words and '...' quoting). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === " ") {
      if (current !== undefined) words.push(current);
      current = undefined;
    } else if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${line}`);
      current = (current ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (ch === "\\") {
      if (i + 1 >= line.length) throw new Error(`dangling backslash in: ${line}`);
      current = (current ?? "") + line[i + 1];
      i++;
    } else if (/["$`;&|<>(){}*?~#\t\n]/.test(ch)) {
      throw new Error(`shellWords: unsupported character ${JSON.stringify(ch)} in: ${line}`);
    } else {
      current = (current ?? "") + ch;
    }
  }
  if (current !== undefined) words.push(current);
  return words;
}

/** The arguments after `[sudo -n] bash -s --`: the one parser of our command lines (policies, tests, the lab). */
export function scriptArgs(commandLine: string): string[] {
  const words = shellWords(commandLine);
  const start = words[0] === "sudo" ? 2 : 0;
  if (words.slice(start, start + 3).join(" ") !== "bash -s --") throw new Error(`not a script invocation: ${commandLine}`);
  return words.slice(start + 3);
}
