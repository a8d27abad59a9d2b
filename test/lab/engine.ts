// A minimal Docker Engine API client over a unix socket (node:http), enough for the lab:
// JSON requests, a streamed image import, and one-shot probe containers.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as http from "node:http";
import { Duplex, type Readable } from "node:stream";

export const API = "/v1.41";

export class EngineError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    body: string,
  ) {
    super(`${method} ${path} -> ${status}: ${body.slice(0, 500)}`);
    this.name = "EngineError";
  }
}

export interface EngineResponse {
  readonly status: number;
  readonly body: Buffer;
}

/** A connection to an engine: its unix socket, or a stream (one per request, like a dial). */
export type EngineTransport = { readonly socketPath: string } | { readonly dial: () => Duplex };

/**
 * The engine the way the docker provider reaches it over SSH (docker/cli connhelper): each
 * connection is `ssh <sshOpts> <destination> docker system dial-stdio`, its stdio the stream.
 */
export function sshDial(sshArgs: readonly string[]): () => Duplex {
  return () => new ChildProcessSocket(spawn("ssh", [...sshArgs, "docker", "system", "dial-stdio"], { stdio: ["pipe", "pipe", "pipe"] }));
}

/**
 * A child's stdout/stdin as the socket node:http expects. The engine answers and closes as
 * soon as it has the request (HTTP/1.0-style `Connection: close`), so a write after that
 * (EPIPE on the child's stdin) is not an error of the exchange.
 */
class ChildProcessSocket extends Duplex {
  private stderr = "";

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    super();
    child.stdout.on("data", (d: Buffer) => {
      if (!this.push(d)) child.stdout.pause();
    });
    child.stdout.on("end", () => this.push(null));
    child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString("utf8")));
    child.stdin.on("error", () => undefined);
    child.on("exit", (code) => {
      if (code !== 0 && code !== null && this.readableLength === 0 && !this.readableEnded) this.destroy(new Error(`ssh dial-stdio exited ${code}: ${this.stderr.trim()}`));
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.child.stdin.destroyed || !this.child.stdin.writable) return done();
    this.child.stdin.write(chunk, () => done());
  }

  override _final(done: (error?: Error | null) => void): void {
    this.child.stdin.end();
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.child.kill();
    done(error);
  }

  // node:http treats its connection as a net.Socket.
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

export class Engine {
  readonly transport: EngineTransport;

  constructor(
    transport: string | EngineTransport,
    readonly label: string,
  ) {
    this.transport = typeof transport === "string" ? { socketPath: transport } : transport;
  }

  get socketPath(): string {
    if (!("socketPath" in this.transport)) throw new Error(`${this.label}: reached over SSH, not a socket`);
    return this.transport.socketPath;
  }

  request(method: string, path: string, body?: unknown, options: { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<EngineResponse> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const isStream = typeof (body as Readable | undefined)?.pipe === "function";
      const payload = body === undefined || isStream ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (payload) {
        headers["Content-Type"] ??= "application/json";
        headers["Content-Length"] = String(payload.length);
      }
      const connection: http.RequestOptions =
        "socketPath" in this.transport ? { socketPath: this.transport.socketPath } : { createConnection: this.transport.dial as unknown as http.RequestOptions["createConnection"], host: "docker" };
      const req = http.request({ ...connection, method, path: `${API}${path}`, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${this.label}: ${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on("error", reject);
      if (isStream) (body as Readable).pipe(req);
      else req.end(payload);
    });
  }

  async json<T>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const res = await this.request(method, path, body, { timeoutMs });
    if (res.status < 200 || res.status >= 300) throw new EngineError(res.status, method, `${this.label}:${path}`, res.body.toString("utf8"));
    const text = res.body.toString("utf8");
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>("GET", path);
  }

  post<T>(path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    return this.json<T>("POST", path, body, timeoutMs);
  }

  async ping(): Promise<boolean> {
    try {
      const res = await this.request("GET", "/_ping", undefined, { timeoutMs: 2_000 });
      return res.status === 200 && res.body.toString() === "OK";
    } catch {
      return false;
    }
  }

  /** `docker import`: a rootfs tar as a new image, with Dockerfile-style changes (CMD ...). */
  async importImage(tar: Readable, repo: string, tag: string, changes: readonly string[]): Promise<void> {
    const query = new URLSearchParams({ fromSrc: "-", repo, tag });
    for (const change of changes) query.append("changes", change);
    const res = await this.request("POST", `/images/create?${query}`, tar, { timeoutMs: 120_000, headers: { "Content-Type": "application/x-tar" } });
    const text = res.body.toString("utf8");
    if (res.status !== 200 || /"error"/.test(text)) throw new EngineError(res.status, "POST", `${this.label}:/images/create`, text);
  }

  exec(containerId: string, cmd: readonly string[], timeoutMs?: number, env?: readonly string[]): Promise<{ code: number; output: string }> {
    return execIn(this, containerId, cmd, timeoutMs, env);
  }

  /**
   * Runs a one-shot container and returns its exit code and output; always removed.
   * `network` is the only network it is attached to.
   */
  async probe(image: string, cmd: readonly string[], network: string, timeoutMs = 30_000): Promise<{ code: number; output: string }> {
    const created = await this.post<{ Id: string }>("/containers/create", {
      Image: image,
      Cmd: cmd,
      Labels: { "com.medianest.lab": "probe" },
      HostConfig: { NetworkMode: network, AutoRemove: false },
    });
    try {
      await this.post(`/containers/${created.Id}/start`);
      const waited = await this.post<{ StatusCode: number }>(`/containers/${created.Id}/wait`, undefined, timeoutMs);
      const logs = await this.request("GET", `/containers/${created.Id}/logs?stdout=1&stderr=1`);
      return { code: waited.StatusCode, output: demuxLogs(logs.body) };
    } finally {
      await this.request("DELETE", `/containers/${created.Id}?force=1`).catch(() => undefined);
    }
  }
}

/** Runs a command in a running container (like `docker exec`, `env` as `-e`); returns exit code and output. */
export async function execIn(engine: Engine, containerId: string, cmd: readonly string[], timeoutMs = 30_000, env?: readonly string[]): Promise<{ code: number; output: string }> {
  const exec = await engine.post<{ Id: string }>(`/containers/${containerId}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: cmd, ...(env ? { Env: env } : {}) });
  const res = await engine.request("POST", `/exec/${exec.Id}/start`, { Detach: false, Tty: false }, { timeoutMs });
  if (res.status !== 200) throw new EngineError(res.status, "POST", `${engine.label}:/exec/start`, res.body.toString("utf8"));
  const inspect = await engine.get<{ ExitCode: number; Running: boolean }>(`/exec/${exec.Id}/json`);
  return { code: inspect.ExitCode, output: demuxLogs(res.body) };
}

/** The multiplexed stdout/stderr stream of a container without a TTY, as text. */
export function demuxLogs(buffer: Buffer): string {
  let out = "";
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    out += buffer.subarray(offset + 8, offset + 8 + size).toString("utf8");
    offset += 8 + size;
  }
  return out;
}
