// The lab stand-in's CGIs (test/lab/standin/*.cgi) under busybox httpd on loopback, as the
// image runs them: the same busybox for httpd, /bin/sh and every applet the scripts call.
// Socket.IO's handshake answers like the real backend: the websocket upgrade gets 101 with
// RFC 6455's accept key and the Engine.IO open packet in the first frame, a foreign Origin
// 403, a request without a key 400; polling gets the open packet. /metrics still routes.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MEDIANEST_CONTRACT } from "../domain/app-contract";
import { STANDIN_CGIS } from "./lab/standin-image";
import { expectedAccept, firstFrame, handshakeQuery, openPacket, parseAnswer, rawGet, upgradeHeaders as upgrade, websocketKey, type RawAnswer } from "./lab/websocket-handshake";

const BUSYBOX = "/bin/busybox";
const haveBusybox = existsSync(BUSYBOX);
// CI installs busybox-static and sets this, so a missing busybox fails there instead of skipping.
const required = process.env.REQUIRE_HOST_TESTS === "1";
if (!haveBusybox && !required) console.warn(`standin-socketio.test.ts skipped: ${BUSYBOX} missing (apt-get install busybox-static)`);

const ORIGIN = "https://medianest.lab.test";
const METRICS_TOKEN = "lab-metrics-token-0123456789";
const SOCKET_IO = `${MEDIANEST_CONTRACT.backend.socketIoPath}/`;
const WAIT_MS = 5_000;

let dir: string | undefined;
let httpd: ChildProcess | undefined;
let port = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Sends REQUEST as is and reads until the server closes (bounded), as busybox httpd does after a CGI. */
function exchange(request: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of answer within ${WAIT_MS} ms: ${Buffer.concat(chunks).toString("latin1")}`));
    }, WAIT_MS);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

async function get(target: string, headers: Readonly<Record<string, string>>): Promise<RawAnswer> {
  const raw = await exchange(rawGet(target, `127.0.0.1:${port}`, headers));
  const answer = parseAnswer(raw);
  if (!answer) throw new Error(`no complete header: ${raw.toString("latin1")}`);
  return answer;
}

/** TEXT is Engine.IO v4's open packet with the server's defaults. */
function expectOpenPacket(text: string, upgrades: string[]): void {
  expect(text.startsWith('0{"sid":'), text).toBe(true);
  expect(openPacket(text)).toEqual({ sid: expect.stringMatching(/^[A-Za-z0-9_-]{20}$/), upgrades, pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 });
}

async function listening(deadline: number): Promise<void> {
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    if (httpd?.exitCode !== null) throw new Error(`busybox httpd exited (${String(httpd?.exitCode)})`);
    if (Date.now() > deadline) throw new Error(`busybox httpd not listening on ${port} within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.runIf(haveBusybox || required)("the stand-in's Socket.IO handshake under busybox httpd", () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "mn-standin-cgi-"));
    // The image's applets: every command the CGIs run is busybox's, as in the rootfs.
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    const applets = spawnSync(BUSYBOX, ["--list"], { encoding: "utf8", timeout: 10_000 }).stdout.split("\n").filter((a) => a !== "");
    for (const applet of applets) symlinkSync(BUSYBOX, path.join(bin, applet));
    const www = path.join(dir, "www");
    for (const sub of ["api", "cgi-bin", "metrics", "socket.io"]) mkdirSync(path.join(www, sub), { recursive: true });
    for (const [name, source] of Object.entries(STANDIN_CGIS)) {
      // The shebang names the image's /bin/sh (busybox ash): here, the same busybox.
      const script = readFileSync(source, "utf8").replace(/^#!\/bin\/sh\n/, `#!${bin}/sh\n`);
      writeFileSync(path.join(www, "cgi-bin", name), script);
      chmodSync(path.join(www, "cgi-bin", name), 0o755);
    }
    port = await freePort();
    httpd = spawn(path.join(bin, "httpd"), ["-f", "-p", `127.0.0.1:${port}`, "-h", www], {
      env: { PATH: bin, NODE_ENV: "production", FRONTEND_URL: ORIGIN, ALLOWED_ORIGINS: ORIGIN, METRICS_TOKEN },
      stdio: ["ignore", "ignore", "inherit"],
    });
    await listening(Date.now() + WAIT_MS);
  }, 20_000);

  afterAll(async () => {
    const child = httpd;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), WAIT_MS);
      await exited;
      clearTimeout(timer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  it("upgrades a websocket from the public origin: 101, the RFC 6455 accept key, the open packet in one text frame", async () => {
    const key = websocketKey();
    const answer = await get(`${SOCKET_IO}${handshakeQuery("websocket")}`, upgrade(key, ORIGIN));
    expect(answer.status).toBe("HTTP/1.1 101 Switching Protocols");
    expect(answer.headers.upgrade).toBe("websocket");
    expect(answer.headers.connection).toBe("Upgrade");
    expect(answer.headers["sec-websocket-accept"]).toBe(expectedAccept(key));
    // FIN + text, unmasked, a 7-bit length, and nothing after the one frame.
    const frame = firstFrame(answer.body);
    expect(frame, answer.body.toString("hex")).toBeDefined();
    expect(frame?.first).toBe(0x81);
    expect(frame?.masked).toBe(false);
    expect(answer.body[1]).toBeLessThan(126);
    expect(frame?.rest.length).toBe(0);
    expectOpenPacket(frame?.payload.toString("utf8") ?? "", []);
  });

  it("upgrades without an Origin (not a browser), and each handshake gets its own sid", async () => {
    const key = websocketKey();
    const [first, second] = await Promise.all([0, 1].map(() => get(`${SOCKET_IO}${handshakeQuery("websocket")}`, upgrade(key))));
    for (const answer of [first, second]) {
      expect(answer.status).toBe("HTTP/1.1 101 Switching Protocols");
      expect(answer.headers["sec-websocket-accept"]).toBe(expectedAccept(key));
    }
    expect(first.body.subarray(2).toString()).not.toBe(second.body.subarray(2).toString());
  });

  it("refuses a foreign Origin with 403, before any upgrade", async () => {
    const answer = await get(`${SOCKET_IO}${handshakeQuery("websocket")}`, upgrade(websocketKey(), "https://elsewhere.example"));
    expect(answer.status).toBe("HTTP/1.1 403 Forbidden");
    expect(answer.headers["sec-websocket-accept"]).toBeUndefined();
    expect(JSON.parse(answer.body.toString())).toEqual({ code: 4, message: "Forbidden" });
  });

  it("answers 400 to an upgrade without a key, with a malformed key, another version or no Upgrade header", async () => {
    const good = upgrade(websocketKey(), ORIGIN);
    const { "Sec-WebSocket-Key": _key, ...noKey } = good;
    const { Upgrade: _upgrade, ...noUpgrade } = good;
    for (const headers of [noKey, { ...good, "Sec-WebSocket-Key": "not-a-key" }, { ...good, "Sec-WebSocket-Version": "8" }, noUpgrade, { ...good, Connection: "keep-alive" }]) {
      const answer = await get(`${SOCKET_IO}${handshakeQuery("websocket")}`, headers);
      expect(answer.status, JSON.stringify(headers)).toBe("HTTP/1.1 400 Bad Request");
      expect(JSON.parse(answer.body.toString())).toEqual({ code: 3, message: "Bad request" });
    }
  });

  it("answers the polling handshake with 200 and the open packet (websocket offered as the upgrade)", async () => {
    const answer = await get(`${SOCKET_IO}${handshakeQuery("polling")}`, { Origin: ORIGIN });
    expect(answer.status).toBe("HTTP/1.1 200 OK");
    expect(answer.headers["content-type"]).toMatch(/^text\/plain/);
    expect(answer.headers["access-control-allow-origin"]).toBe(ORIGIN);
    expect(Number(answer.headers["content-length"])).toBe(answer.body.length);
    expectOpenPacket(answer.body.toString("utf8"), ["websocket"]);
  });

  it("refuses what Engine.IO refuses: another protocol version, an unknown transport, an unknown sid", async () => {
    const cases: [string, number, string][] = [
      ["EIO=3&transport=polling", 5, "Unsupported protocol version"],
      ["EIO=4&transport=flash", 0, "Transport unknown"],
      ["EIO=4&transport=polling&sid=abc", 1, "Session ID unknown"],
    ];
    for (const [query, code, message] of cases) {
      const answer = await get(`${SOCKET_IO}?${query}`, {});
      expect(answer.status, query).toBe("HTTP/1.1 400 Bad Request");
      expect(JSON.parse(answer.body.toString())).toEqual({ code, message });
    }
  });

  it("still routes /metrics (bearer token only) and answers 404 for other paths without an index", async () => {
    const withToken = await get(`${MEDIANEST_CONTRACT.backend.metricsPath}/`, { Authorization: `Bearer ${METRICS_TOKEN}` });
    expect(withToken.status).toBe("HTTP/1.1 200 OK");
    expect(withToken.body.toString()).toContain('app_info{version="standin",environment="production"} 1');
    expect((await get(`${MEDIANEST_CONTRACT.backend.metricsPath}/`, {})).status).toBe("HTTP/1.1 401 Unauthorized");
    expect((await get("/api/", {})).status).toBe("HTTP/1.1 404 Not Found");
  });
});
