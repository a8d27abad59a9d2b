// The websocket handshake as a client sees it on the wire (RFC 6455 section 4), for the
// checks that a Socket.IO upgrade reaches the stand-in backend: the raw request, the accept
// key the server must answer, and the answer split into its status, headers and first frame.
import { createHash, randomBytes } from "node:crypto";

/** RFC 6455 section 1.3: Sec-WebSocket-Accept is base64(sha1(key + this GUID)). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A fresh Sec-WebSocket-Key: 16 random bytes in base64. */
export function websocketKey(): string {
  return randomBytes(16).toString("base64");
}

export function expectedAccept(key: string): string {
  return createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
}

/** The headers of an upgrade to a websocket (Origin only when given, as a non-browser client sends it). */
export function upgradeHeaders(key: string, origin?: string): Record<string, string> {
  return { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key, ...(origin ? { Origin: origin } : {}) };
}

/** A GET request as raw HTTP/1.1 text. */
export function rawGet(target: string, host: string, headers: Readonly<Record<string, string>>): string {
  const lines = [`GET ${target} HTTP/1.1`, `Host: ${host}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Engine.IO v4's handshake query for a new session over TRANSPORT. */
export const handshakeQuery = (transport: "websocket" | "polling"): string => `?EIO=4&transport=${transport}`;

export interface RawAnswer {
  readonly status: string;
  /** By lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** An HTTP answer as it came off the socket; undefined without a complete header. */
export function parseAnswer(raw: Buffer): RawAnswer | undefined {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [status, ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n");
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
  return { status, headers, body: raw.subarray(end + 4) };
}

export interface Frame {
  /** FIN, RSV and opcode: 0x81 for a final text frame. */
  readonly first: number;
  readonly masked: boolean;
  readonly payload: Buffer;
  /** The bytes after this frame. */
  readonly rest: Buffer;
}

/** The first frame in BYTES (server frames: 7- or 16-bit length); undefined while incomplete. */
export function firstFrame(bytes: Buffer): Frame | undefined {
  if (bytes.length < 2) return undefined;
  const masked = (bytes[1] & 0x80) !== 0;
  let length = bytes[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (masked) offset += 4;
  if (bytes.length < offset + length) return undefined;
  const payload = Buffer.from(bytes.subarray(offset, offset + length));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= bytes[offset - 4 + (i % 4)];
  return { first: bytes[0], masked, payload, rest: bytes.subarray(offset + length) };
}

/** Engine.IO v4's open packet ("0" and the handshake JSON), parsed; undefined when TEXT is not one. */
export function openPacket(text: string): { sid: string; upgrades: string[]; pingInterval: number; pingTimeout: number; maxPayload: number } | undefined {
  if (!text.startsWith('0{"sid":')) return undefined;
  try {
    return JSON.parse(text.slice(1)) as { sid: string; upgrades: string[]; pingInterval: number; pingTimeout: number; maxPayload: number };
  } catch {
    return undefined;
  }
}
